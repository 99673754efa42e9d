#include "log/archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "base/checksum.h"
#include "base/file_system.h"
#include "base/mutex.h"
#include "log/record_format.h"

namespace adclick::log {
namespace {

constexpr const char* kManifest = "MANIFEST";
constexpr int kZstdLevel = 3;

std::string archived_name(offset_t base) { return format::segment_file_name(base) + ".zst"; }

std::string manifest_line(const archived_segment& s) {
  return fmt::format(
      "segment partition={} base={} end={} records={} bytes={} compressed={} min_ms={} max_ms={} "
      "xxh3={:016x}\n",
      s.partition, s.base_offset, s.end_offset, s.records, s.bytes, s.compressed_bytes, s.min_event_time_ms,
      s.max_event_time_ms, s.xxh3);
}

template <class T>
bool parse_field(std::string_view token, std::string_view key, T& out, int base = 10) {
  if (!token.starts_with(key) || token.size() <= key.size() || token[key.size()] != '=') return false;
  const std::string_view v = token.substr(key.size() + 1);
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  return ec == std::errc() && p == v.data() + v.size();
}

bool parse_manifest_line(std::string_view line, archived_segment& s) {
  std::vector<std::string_view> t;
  for (std::size_t pos = 0; pos <= line.size();) {
    const auto sp = line.find(' ', pos);
    const auto end = sp == std::string_view::npos ? line.size() : sp;
    t.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return t.size() == 10 && t[0] == "segment" && parse_field(t[1], "partition", s.partition) &&
         parse_field(t[2], "base", s.base_offset) && parse_field(t[3], "end", s.end_offset) &&
         parse_field(t[4], "records", s.records) && parse_field(t[5], "bytes", s.bytes) &&
         parse_field(t[6], "compressed", s.compressed_bytes) &&
         parse_field(t[7], "min_ms", s.min_event_time_ms) && parse_field(t[8], "max_ms", s.max_event_time_ms) &&
         parse_field(t[9], "xxh3", s.xxh3, 16) && s.end_offset >= s.base_offset;
}

std::error_code append_line(const std::string& path, const std::string& line) {
  auto& fs = base::posix_file_system();
  auto fd = fs.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC);
  if (!fd) return fd.error();
  std::error_code ec = fs.write_all(*fd, line.data(), line.size());
  if (!ec) ec = fs.datasync(*fd);
  fs.close(*fd);
  return ec;
}

}  // namespace

bool is_archive_dir(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir + "/" + kManifest, ec);
}

result<std::unique_ptr<segment_archive>> segment_archive::open(const std::string& dir, std::string& error_line) {
  auto& fs = base::posix_file_system();
  if (auto ec = fs.make_dirs(dir)) {
    error_line = fmt::format("archive: cannot create {}: {}", dir, ec.message());
    return ec;
  }
  std::unique_ptr<segment_archive> a(new segment_archive(dir));
  const std::string path = dir + "/" + kManifest;
  if (!std::filesystem::exists(path)) {
    if (auto ec = append_line(path, "")) {
      error_line = fmt::format("archive: cannot create {}: {}", path, ec.message());
      return ec;
    }
    if (auto ec = fs.sync_dir(dir)) return ec;
    return a;
  }
  auto text = base::read_file(fs, path);
  if (!text) {
    error_line = fmt::format("archive: cannot read {}: {}", path, text.error().message());
    return text.error();
  }
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text->size();) {
    const auto nl = text->find('\n', pos);
    if (nl == std::string::npos) break;  // an unfinished last line: its append never completed
    ++line_no;
    const std::string_view line(text->data() + pos, nl - pos);
    pos = nl + 1;
    archived_segment s;
    if (!parse_manifest_line(line, s)) {
      error_line = fmt::format("archive: {} line {} is damaged", path, line_no);
      return std::make_error_code(std::errc::illegal_byte_sequence);
    }
    base::mutex_lock lock(a->mu_);  // not shared yet: for the analysis
    a->entries_[{s.partition, s.base_offset}] = s;
  }
  return a;
}

bool segment_archive::has(partition_id p, offset_t base_offset) const {
  base::mutex_lock lock(mu_);
  return entries_.count({p, base_offset}) != 0;
}

std::vector<archived_segment> segment_archive::segments() const {
  base::mutex_lock lock(mu_);
  std::vector<archived_segment> out;
  out.reserve(entries_.size());
  for (const auto& [k, s] : entries_) out.push_back(s);
  return out;
}

std::error_code segment_archive::add(const std::string& log_dir, partition_id p, const segment_info& s) {
  if (has(p, s.base_offset)) return {};
  auto& fs = base::posix_file_system();
  const std::string part = format::partition_dir_name(p);
  auto bytes = base::read_file(fs, log_dir + "/" + part + "/" + format::segment_file_name(s.base_offset));
  if (!bytes) return bytes.error();
  std::string packed(ZSTD_compressBound(bytes->size()), '\0');
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, kZstdLevel);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const std::size_t n = ZSTD_compress2(cctx, packed.data(), packed.size(), bytes->data(), bytes->size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) return std::make_error_code(std::errc::io_error);
  packed.resize(n);
  if (auto ec = fs.make_dirs(dir_ + "/" + part)) return ec;
  if (auto ec = base::write_file_durably(fs, dir_ + "/" + part, archived_name(s.base_offset), packed)) return ec;
  archived_segment a;
  a.partition = p;
  a.base_offset = s.base_offset;
  a.end_offset = s.end_offset;
  a.records = s.records;
  a.bytes = bytes->size();
  a.compressed_bytes = n;
  a.min_event_time_ms = s.min_event_time_ms;
  a.max_event_time_ms = s.max_event_time_ms;
  a.xxh3 = base::checksum64(bytes->data(), bytes->size());
  base::mutex_lock lock(mu_);
  if (auto ec = append_line(dir_ + "/" + kManifest, manifest_line(a))) return ec;
  entries_[{p, s.base_offset}] = a;
  return {};
}

std::error_code segment_archive::extract(const archived_segment& s, const std::string& dest_log_dir,
                                         std::string& problem) const {
  auto& fs = base::posix_file_system();
  const std::string part = format::partition_dir_name(s.partition);
  const std::string src = dir_ + "/" + part + "/" + archived_name(s.base_offset);
  auto packed = base::read_file(fs, src);
  if (!packed) {
    problem = fmt::format("{}: cannot read: {}", src, packed.error().message());
    return packed.error();
  }
  const auto size = ZSTD_getFrameContentSize(packed->data(), packed->size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != s.bytes) {
    problem = fmt::format("{}: not a zstd frame of the manifest's {} bytes", src, s.bytes);
    return std::make_error_code(std::errc::illegal_byte_sequence);
  }
  std::string bytes(size, '\0');
  const std::size_t n = ZSTD_decompress(bytes.data(), bytes.size(), packed->data(), packed->size());
  if (ZSTD_isError(n) || n != size) {
    problem = fmt::format("{}: damaged ({})", src, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
    return std::make_error_code(std::errc::illegal_byte_sequence);
  }
  if (base::checksum64(bytes.data(), bytes.size()) != s.xxh3) {
    problem = fmt::format("{}: checksum differs from the manifest", src);
    return std::make_error_code(std::errc::illegal_byte_sequence);
  }
  if (auto ec = fs.make_dirs(dest_log_dir + "/" + part)) return ec;
  return base::write_file_durably(fs, dest_log_dir + "/" + part, format::segment_file_name(s.base_offset), bytes);
}

result<std::size_t> extract_range(const segment_archive& archive, std::uint32_t partitions, std::int64_t from_ms,
                                  std::int64_t to_ms, const std::string& dest_log_dir, std::string& problem) {
  auto& fs = base::posix_file_system();
  if (auto ec = fs.make_dirs(dest_log_dir)) return ec;
  if (auto ec = base::write_file_durably(fs, dest_log_dir, "LOG_META", format::log_meta_text(partitions))) return ec;
  const auto all = archive.segments();
  std::size_t extracted = 0;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    std::vector<archived_segment> mine;
    for (const auto& s : all) {
      if (s.partition == p) mine.push_back(s);
    }
    std::size_t first = mine.size(), last = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const auto& s = mine[i];
      if (s.records == 0 || s.max_event_time_ms < from_ms || s.min_event_time_ms >= to_ms) continue;
      first = std::min(first, i);
      last = std::max(last, i);
    }
    for (std::size_t i = first; i < mine.size() && i <= last; ++i) {
      if (auto ec = archive.extract(mine[i], dest_log_dir, problem)) return ec;
      ++extracted;
    }
    if (auto ec = fs.make_dirs(dest_log_dir + "/" + format::partition_dir_name(p))) return ec;
  }
  return extracted;
}

std::int64_t archive_complete_before(const segment_archive& archive, const click_log& live) {
  std::int64_t before = INT64_MAX;
  for (std::uint32_t p = 0; p < live.partitions(); ++p) {
    for (const auto& s : live.segments(p)) {
      if (s.records > 0 && !archive.has(p, s.base_offset)) before = std::min(before, s.min_event_time_ms);
    }
  }
  return before;
}

inspect_report inspect_archive(const std::string& dir) {
  inspect_report out;
  std::string err;
  auto archive = segment_archive::open(dir, err);
  if (!archive) {
    out.problems.push_back(err);
    return out;
  }
  const auto all = (*archive)->segments();
  std::uint32_t partitions = 0;
  for (const auto& s : all) partitions = std::max(partitions, s.partition + 1);
  const std::string scratch = dir + fmt::format("/.inspect-{}", ::getpid());
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  std::string problem;
  auto& fs = base::posix_file_system();
  if (auto e = fs.make_dirs(scratch); e ||
      base::write_file_durably(fs, scratch, "LOG_META", format::log_meta_text(std::max<std::uint32_t>(partitions, 1)))) {
    out.problems.push_back(fmt::format("archive: cannot create the scratch directory {}", scratch));
    return out;
  }
  std::vector<std::string> damaged;
  for (const auto& s : all) {
    if ((*archive)->extract(s, scratch, problem)) {
      damaged.push_back(problem);
      ++out.corrupt_stretches;
      out.corrupt_bytes += s.bytes;
    }
  }
  for (std::uint32_t p = 0; p < partitions; ++p) (void)fs.make_dirs(scratch + "/" + format::partition_dir_name(p));
  inspect_report inner = inspect_log(scratch);
  std::filesystem::remove_all(scratch, ec);
  inner.corrupt_stretches += out.corrupt_stretches;
  inner.corrupt_bytes += out.corrupt_bytes;
  for (auto& d : damaged) inner.problems.push_back(std::move(d));
  return inner;
}

}  // namespace adclick::log
