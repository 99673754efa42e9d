#include "log/segment.h"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/mutex.h"
#include "base/wall_time.h"
#include "log/log_errc.h"
#include "log/record_format.h"

namespace adclick::log {
namespace {
constexpr std::size_t kIndexFixedSize = 64 + 4;
}  // namespace

void segment_stats::add(offset_t offset, std::int64_t event_time_ms, std::uint64_t position,
                        std::uint64_t size) {
  if (records == 0) {
    min_event_time_ms = max_event_time_ms = event_time_ms;
  } else {
    min_event_time_ms = std::min(min_event_time_ms, event_time_ms);
    max_event_time_ms = std::max(max_event_time_ms, event_time_ms);
  }
  ++records;
  end_offset = offset + 1;
  data_size = position + size;
}

result<std::shared_ptr<segment>> segment::create(base::file_system& fs, const std::string& dir,
                                                 partition_id partition, offset_t base_offset) {
  const std::string path = dir + "/" + format::segment_file_name(base_offset);
  auto fd = fs.open(path, O_RDWR | O_CREAT | O_EXCL);
  if (!fd) return fd.error();
  char header[format::kSegmentHeaderSize];
  format::encode_segment_header(header, partition, base_offset);
  std::error_code ec = fs.write_all(*fd, header, sizeof header);
  if (!ec) ec = fs.datasync(*fd);
  if (!ec) ec = fs.sync_dir(dir);
  if (ec) {
    fs.close(*fd);
    (void)fs.remove(path);
    return ec;
  }
  auto seg = std::make_shared<segment>(fs, dir, partition, base_offset, *fd, base::wall_now_ms());
  segment_stats s;
  s.end_offset = base_offset;
  s.data_size = format::kSegmentHeaderSize;
  seg->set_contents(s, {});
  seg->publish_durable(format::kSegmentHeaderSize);
  return seg;
}

result<std::shared_ptr<segment>> segment::open(base::file_system& fs, const std::string& dir,
                                               partition_id partition, offset_t base_offset,
                                               bool read_only) {
  const std::string path = dir + "/" + format::segment_file_name(base_offset);
  auto fd = fs.open(path, read_only ? O_RDONLY : O_RDWR);
  if (!fd) return fd.error();
  char header[format::kSegmentHeaderSize];
  auto n = fs.pread(*fd, header, sizeof header, 0);
  partition_id p = 0;
  offset_t base = 0;
  if (!n || *n != sizeof header || !format::decode_segment_header(header, p, base) ||
      p != partition || base != base_offset) {
    fs.close(*fd);
    if (!n) return n.error();
    return log_errc::bad_segment_header;
  }
  auto seg = std::make_shared<segment>(fs, dir, partition, base_offset, *fd, base::wall_now_ms());
  segment_stats s;
  s.end_offset = base_offset;
  s.data_size = format::kSegmentHeaderSize;
  seg->set_contents(s, {});
  return seg;
}

segment::segment(base::file_system& fs, std::string dir, partition_id partition, offset_t base_offset,
                 int fd, std::int64_t created_ms)
    : fs_(fs),
      dir_(std::move(dir)),
      partition_(partition),
      base_offset_(base_offset),
      fd_(fd),
      created_ms_(created_ms) {}

segment::~segment() { fs_.close(fd_); }

std::string segment::path() const { return dir_ + "/" + format::segment_file_name(base_offset_); }
std::string segment::index_path() const {
  return dir_ + "/" + format::index_file_name(base_offset_);
}

segment_stats segment::stats() const {
  base::mutex_lock lk(mu_);
  return stats_;
}

segment_info segment::info() const {
  base::mutex_lock lk(mu_);
  segment_info i;
  i.base_offset = base_offset_;
  i.end_offset = stats_.end_offset;
  i.records = stats_.records;
  i.bytes = stats_.data_size;
  i.min_event_time_ms = stats_.min_event_time_ms;
  i.max_event_time_ms = stats_.max_event_time_ms;
  i.sealed = sealed();
  return i;
}

std::uint64_t segment::position_for(offset_t offset) const {
  base::mutex_lock lk(mu_);
  auto it = std::upper_bound(index_.begin(), index_.end(), offset,
                             [](offset_t o, const sparse_entry& e) { return o < e.offset; });
  if (it == index_.begin()) return format::kSegmentHeaderSize;
  return std::prev(it)->position;
}

void segment::set_contents(const segment_stats& s, std::vector<sparse_entry> index) {
  base::mutex_lock lk(mu_);
  stats_ = s;
  index_ = std::move(index);
}

void segment::append_contents(const segment_stats& s, const std::vector<sparse_entry>& more) {
  base::mutex_lock lk(mu_);
  stats_ = s;
  index_.insert(index_.end(), more.begin(), more.end());
}

std::error_code segment::sync_data() {
  base::mutex_lock lk(sync_mu_);
  if (poisoned_) return log_errc::fenced;
  if (auto ec = fs_.datasync(fd_)) {
    poisoned_ = true;
    return ec;
  }
  return {};
}

bool segment::poisoned() const {
  base::mutex_lock lk(sync_mu_);
  return poisoned_;
}

std::error_code segment::seal() {
  std::string bytes;
  {
    base::mutex_lock lk(mu_);
    bytes = encode_index(partition_, base_offset_, stats_, index_);
  }
  // The records must be durable before the index that describes them.
  if (auto ec = sync_data()) return ec;
  if (auto ec = base::write_file_durably(fs_, dir_, format::index_file_name(base_offset_), bytes)) {
    return ec;
  }
  sealed_.store(true, std::memory_order_release);
  return {};
}

std::error_code segment::load_index() {
  auto bytes = base::read_file(fs_, index_path());
  if (!bytes) return bytes.error();
  segment_stats s;
  std::vector<sparse_entry> idx;
  if (!decode_index(*bytes, partition_, base_offset_, s, idx)) return log_errc::bad_index;
  auto size = fs_.size(fd_);
  if (!size) return size.error();
  if (*size < s.data_size) return log_errc::bad_index;  // the file lost records
  set_contents(s, std::move(idx));
  publish_durable(s.data_size);
  sealed_.store(true, std::memory_order_release);
  return {};
}

std::error_code segment::remove_files() {
  if (auto ec = fs_.remove(index_path())) return ec;
  if (auto ec = fs_.remove(path())) return ec;
  return fs_.sync_dir(dir_);
}

std::string encode_index(partition_id partition, offset_t base_offset, const segment_stats& s,
                         const std::vector<sparse_entry>& index) {
  using namespace format;
  std::string out(kIndexFixedSize + index.size() * 16 + 4, '\0');
  char* p = out.data();
  std::memcpy(p, kIndexMagic, 8);
  base::put_u32(p + 8, kFormatVersion);
  base::put_u32(p + 12, partition);
  base::put_u64(p + 16, base_offset);
  base::put_u64(p + 24, s.end_offset);
  base::put_u64(p + 32, s.records);
  base::put_u64(p + 40, static_cast<std::uint64_t>(s.min_event_time_ms));
  base::put_u64(p + 48, static_cast<std::uint64_t>(s.max_event_time_ms));
  base::put_u64(p + 56, s.data_size);
  base::put_u32(p + 64, static_cast<std::uint32_t>(index.size()));
  char* e = p + kIndexFixedSize;
  for (const auto& entry : index) {
    base::put_u64(e, entry.offset);
    base::put_u64(e + 8, entry.position);
    e += 16;
  }
  base::put_u32(e, base::checksum32(p, static_cast<std::size_t>(e - p)));
  return out;
}

bool decode_index(const std::string& bytes, partition_id partition, offset_t base_offset,
                  segment_stats& s, std::vector<sparse_entry>& index) {
  using namespace format;
  if (bytes.size() < kIndexFixedSize + 4) return false;
  const char* p = bytes.data();
  const std::uint32_t n = base::get_u32(p + 64);
  if (bytes.size() != kIndexFixedSize + std::size_t{n} * 16 + 4) return false;
  if (base::checksum32(p, bytes.size() - 4) != base::get_u32(p + bytes.size() - 4)) return false;
  if (std::memcmp(p, kIndexMagic, 8) != 0 || base::get_u32(p + 8) != kFormatVersion ||
      base::get_u32(p + 12) != partition || base::get_u64(p + 16) != base_offset) {
    return false;
  }
  s.end_offset = base::get_u64(p + 24);
  s.records = base::get_u64(p + 32);
  s.min_event_time_ms = static_cast<std::int64_t>(base::get_u64(p + 40));
  s.max_event_time_ms = static_cast<std::int64_t>(base::get_u64(p + 48));
  s.data_size = base::get_u64(p + 56);
  if (s.end_offset < base_offset || s.data_size < kSegmentHeaderSize) return false;
  index.clear();
  index.reserve(n);
  const char* e = p + kIndexFixedSize;
  for (std::uint32_t i = 0; i < n; ++i, e += 16) {
    index.push_back({base::get_u64(e), base::get_u64(e + 8)});
  }
  return true;
}

// --- frame_scanner ------------------------------------------------------------

frame_scanner::frame_scanner(base::file_system& fs, std::size_t buffer_size)
    : fs_(fs), buf_(std::max(buffer_size, 2 * format::kMaxFrameSize)) {}

void frame_scanner::reset(int fd, std::uint64_t position, std::uint64_t limit) {
  fd_ = fd;
  pos_ = position;
  limit_ = limit;
  buf_pos_ = 0;
  buf_len_ = 0;
}

std::error_code frame_scanner::fill(std::uint64_t at, std::size_t n) {
  const std::uint64_t want_end = std::min<std::uint64_t>(at + n, limit_);
  if (at >= buf_pos_ && want_end <= buffered_end()) return {};
  // Keep what is already buffered from `at` on, read the rest after it.
  std::size_t keep = 0;
  if (at >= buf_pos_ && at < buffered_end()) {
    keep = static_cast<std::size_t>(buffered_end() - at);
    std::memmove(buf_.data(), buf_.data() + (at - buf_pos_), keep);
  }
  buf_pos_ = at;
  buf_len_ = keep;
  const std::uint64_t read_end = std::min<std::uint64_t>(at + buf_.size(), limit_);
  while (buffered_end() < read_end) {
    auto r = fs_.pread(fd_, buf_.data() + buf_len_,
                       static_cast<std::size_t>(read_end - buffered_end()), buffered_end());
    if (!r) return r.error();
    if (*r == 0) {
      // The file is shorter than the limit: treat the missing bytes as the end.
      limit_ = buffered_end();
      break;
    }
    buf_len_ += *r;
  }
  return {};
}

result<frame_scanner::item> frame_scanner::next(offset_t min_offset) {
  item it;
  if (pos_ >= limit_) {
    it.kind = item::end;
    it.position = pos_;
    return it;
  }
  if (auto ec = fill(pos_, format::kMaxFrameSize)) return ec;
  std::size_t size = 0;
  if (pos_ < limit_ &&
      format::check_frame(ptr(pos_), static_cast<std::size_t>(buffered_end() - pos_), size) ==
          format::frame_check::ok &&
      base::get_u64(ptr(pos_) + format::kFrameOffsetPos) >= min_offset) {
    it.kind = item::record;
    it.position = pos_;
    it.offset = base::get_u64(ptr(pos_) + format::kFrameOffsetPos);
    it.payload = std::string_view(ptr(pos_) + format::kFrameHeaderSize,
                                  size - format::kFrameHeaderSize);
    it.frame_size = size;
    pos_ += size;
    return it;
  }
  if (pos_ >= limit_) {  // fill() found the file shorter than the limit
    it.kind = item::end;
    it.position = pos_;
    return it;
  }
  // Bad bytes at pos_: look for the next valid frame after them.
  const std::uint64_t bad = pos_;
  bool all_zero = *ptr(bad) == 0;
  std::uint64_t q = bad + 1;
  while (q < limit_) {
    if (auto ec = fill(q, buf_.size())) return ec;
    bool refill = false;
    for (; q < buffered_end(); ++q) {
      all_zero = all_zero && *ptr(q) == 0;
      const auto avail = static_cast<std::size_t>(buffered_end() - q);
      if (avail < format::kMaxFrameSize && buffered_end() < limit_) {
        refill = true;
        break;
      }
      if (format::check_frame(ptr(q), avail, size) == format::frame_check::ok &&
          base::get_u64(ptr(q) + format::kFrameOffsetPos) >= min_offset) {
        it.kind = item::corrupt;
        it.position = bad;
        it.skipped = q - bad;
        pos_ = q;
        return it;
      }
    }
    if (!refill) break;
  }
  it.kind = item::end;
  it.position = bad;
  it.skipped = limit_ - bad;
  it.zero_tail = all_zero;
  pos_ = limit_;
  return it;
}

}  // namespace adclick::log
