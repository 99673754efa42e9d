#include "state/ads_snapshot.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/file_system.h"
#include "state/store.h"

namespace adclick::state {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'C', 'K', 'S', 'N', 'P', '1'};
constexpr std::size_t kFooterBytes = 56;
constexpr std::size_t kRecordHeader = 12;  // adId, len
// A page holds one record at least, and records are bounded by the ad checks
// (URL 2048, advertiser 64): no page of a sound file is longer than this.
constexpr std::uint64_t kMaxPageBytes = 64 * 1024;


// Reads exactly n bytes at off; std::errc::io_error when the file is shorter.
std::error_code read_at(int fd, char* out, std::size_t n, std::uint64_t off) {
  std::size_t done = 0;
  while (done < n) {
    auto got = base::posix_file_system().pread(fd, out + done, n - done, off + done);
    if (!got) return got.error();
    if (*got == 0) return std::make_error_code(std::errc::io_error);
    done += *got;
  }
  return {};
}

}  // namespace

// Long on purpose: one sequence (stream the pages into a temporary file,
// fsync, rename, fsync the directory) whose every step has its own error
// line; split up, the clean-up on each path would be repeated.
std::error_code ads_snapshot::write(const std::string& path, std::uint64_t epoch,
                                    const ad_source& source, std::string& why) {
  base::file_system& fs = base::posix_file_system();
  const std::string tmp = path + ".tmp";
  auto opened = fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!opened) {
    why = fmt::format("cannot create {}: {}", tmp, opened.error().message());
    return opened.error();
  }
  const int fd = *opened;
  std::string out;       // written in chunks of about 1 MiB
  std::string page;      // the records of the open page
  std::string directory;
  std::uint64_t written = 0, pages = 0, ads = 0, page_first = 0;
  std::error_code ec;
  auto flush_out = [&]() {
    if (!ec) ec = fs.write_all(fd, out.data(), out.size());
    written += out.size();
    out.clear();
  };
  auto close_page = [&]() {
    if (page.empty()) return;
    base::append_u64(directory, page_first);
    base::append_u64(directory, written + out.size());
    ++pages;
    out += page;
    base::append_u64(out, base::checksum64(page.data(), page.size()));
    page.clear();
    if (out.size() >= (1U << 20)) flush_out();
  };
  std::uint64_t last_id = 0;
  bool ordered = true;
  const auto src_ec = source([&](const ad_record& ad) {
    if (ads != 0 && ad.ad_id <= last_id) {
      ordered = false;
      return false;
    }
    last_id = ad.ad_id;
    const std::string value = encode_ad(ad);
    if (!page.empty() && page.size() + kRecordHeader + value.size() > kSnapshotPageBytes - 8) {
      close_page();
    }
    if (page.empty()) page_first = ad.ad_id;
    base::append_u64(page, ad.ad_id);
    base::append_u32(page, static_cast<std::uint32_t>(value.size()));
    page += value;
    ++ads;
    return !ec;
  });
  close_page();
  const std::uint64_t dir_offset = written + out.size();
  std::string dir_bytes;
  base::append_u64(dir_bytes, pages);
  dir_bytes += directory;
  base::append_u64(dir_bytes, dir_offset);
  out += dir_bytes;
  std::string footer(kMagic, sizeof kMagic);
  base::append_u64(footer, epoch);
  base::append_u64(footer, ads);
  base::append_u64(footer, dir_offset);
  base::append_u64(footer, dir_bytes.size());
  base::append_u64(footer, base::checksum64(dir_bytes.data(), dir_bytes.size()));
  base::append_u64(footer, base::checksum64(footer.data(), footer.size()));
  out += footer;
  flush_out();
  if (!ec) ec = fs.sync(fd);
  fs.close(fd);
  if (src_ec || !ordered || ec) {
    (void)fs.remove(tmp);
    if (src_ec) {
      why = "cannot read the ads: " + src_ec.message();
      return src_ec;
    }
    if (!ordered) {
      why = "the ads did not come in increasing id order";
      return state_errc::failed;
    }
    why = fmt::format("cannot write {}: {}", tmp, ec.message());
    return ec;
  }
  if ((ec = fs.rename(tmp, path))) {
    why = fmt::format("cannot rename {} to {}: {}", tmp, path, ec.message());
    return ec;
  }
  // The rename is durable once the directory is.
  const auto dir = std::filesystem::path(path).parent_path();
  if ((ec = fs.sync_dir(dir.empty() ? "." : dir.string()))) {
    why = fmt::format("cannot sync the directory of {}: {}", path, ec.message());
    return ec;
  }
  return {};
}

result<std::unique_ptr<ads_snapshot>> ads_snapshot::open(const std::string& path, std::string& why) {
  base::file_system& fs = base::posix_file_system();
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) {
    why = fmt::format("cannot open {}: {}", path, opened.error().message());
    return opened.error();
  }
  std::unique_ptr<ads_snapshot> s(new ads_snapshot());
  s->fd_ = *opened;
  const auto size = fs.size(s->fd_);
  if (!size) {
    why = fmt::format("cannot read {}: {}", path, size.error().message());
    return size.error();
  }
  auto corrupt = [&](const std::string& what) {
    why = fmt::format("{} is damaged: {}", path, what);
    return state_errc::corrupt;
  };
  const std::uint64_t file_size = *size;
  if (file_size < kFooterBytes) return corrupt("shorter than its footer");
  char footer[kFooterBytes];
  if (auto ec = read_at(s->fd_, footer, kFooterBytes, file_size - kFooterBytes)) {
    why = fmt::format("cannot read {}: {}", path, ec.message());
    return ec;
  }
  if (std::memcmp(footer, kMagic, sizeof kMagic) != 0) return corrupt("not an ads snapshot (bad magic)");
  if (base::checksum64(footer, 48) != base::get_u64(footer + 48)) return corrupt("footer checksum mismatch");
  s->epoch_ = base::get_u64(footer + 8);
  s->ads_ = base::get_u64(footer + 16);
  const std::uint64_t dir_offset = base::get_u64(footer + 24), dir_len = base::get_u64(footer + 32);
  if (dir_offset > file_size || dir_len != file_size - kFooterBytes - dir_offset || dir_len < 16 ||
      dir_len % 16 != 0) {
    return corrupt("directory bounds do not match the file size");
  }
  std::string dir(dir_len, '\0');
  if (auto ec = read_at(s->fd_, dir.data(), dir_len, dir_offset)) {
    why = fmt::format("cannot read {}: {}", path, ec.message());
    return ec;
  }
  if (base::checksum64(dir.data(), dir.size()) != base::get_u64(footer + 40)) return corrupt("directory checksum mismatch");
  const std::uint64_t pages = base::get_u64(dir.data());
  if (pages != (dir_len - 16) / 16) return corrupt("directory page count mismatch");
  s->first_ids_.reserve(pages);
  s->offsets_.reserve(pages + 1);
  for (std::uint64_t i = 0; i < pages; ++i) {
    const char* e = dir.data() + 8 + 16 * i;
    const std::uint64_t first = base::get_u64(e), off = base::get_u64(e + 8);
    const std::uint64_t prev_end = i == 0 ? 0 : s->offsets_.back();
    if ((i == 0 && off != 0) || (i > 0 && first <= s->first_ids_.back()) ||
        (i > 0 && (off <= prev_end || off - prev_end > kMaxPageBytes))) {
      return corrupt(fmt::format("directory entry {} is out of order", i));
    }
    s->first_ids_.push_back(first);
    s->offsets_.push_back(off);
  }
  const std::uint64_t end = base::get_u64(dir.data() + dir_len - 8);
  if (end != dir_offset || (pages > 0 && (end <= s->offsets_.back() ||
                                          end - s->offsets_.back() > kMaxPageBytes))) {
    return corrupt("directory end does not match the pages");
  }
  if (pages == 0 && dir_offset != 0) return corrupt("pages without a directory");
  s->offsets_.push_back(end);
  return s;
}

ads_snapshot::~ads_snapshot() {
  if (fd_ >= 0) base::posix_file_system().close(fd_);
}

std::uint64_t ads_snapshot::memory_bytes() const {
  return (first_ids_.capacity() + offsets_.capacity()) * sizeof(std::uint64_t);
}

result<std::optional<ad_record>> ads_snapshot::find(std::uint64_t ad_id) const {
  const auto it = std::upper_bound(first_ids_.begin(), first_ids_.end(), ad_id);
  if (it == first_ids_.begin()) return std::optional<ad_record>();
  const auto page = static_cast<std::size_t>(it - first_ids_.begin() - 1);
  const std::uint64_t off = offsets_[page], len = offsets_[page + 1] - off;
  thread_local std::string buf;
  buf.resize(len);
  if (auto ec = read_at(fd_, buf.data(), len, off)) return ec;
  if (len < 8 + kRecordHeader || base::checksum64(buf.data(), len - 8) != base::get_u64(buf.data() + len - 8)) {
    return state_errc::corrupt;
  }
  std::uint64_t at = 0;
  const std::uint64_t records_end = len - 8;
  while (at < records_end) {
    if (records_end - at < kRecordHeader) return state_errc::corrupt;
    const std::uint64_t id = base::get_u64(buf.data() + at);
    const std::uint32_t n = base::get_u32(buf.data() + at + 8);
    at += kRecordHeader;
    if (n > records_end - at) return state_errc::corrupt;
    if (id == ad_id) {
      auto ad = decode_ad(id, std::string_view(buf.data() + at, n));
      if (!ad) return state_errc::corrupt;
      return std::optional<ad_record>(std::move(*ad));
    }
    if (id > ad_id) break;  // records are in id order
    at += n;
  }
  return std::optional<ad_record>();
}

}  // namespace adclick::state
