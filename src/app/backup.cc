#include "app/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "app/data_dir.h"
#include "base/file_system.h"
#include "base/lock_file.h"
#include "base/rfc3339.h"
#include "base/wall_time.h"
#include "log/segmented_log.h"
#include "state/store.h"

#ifndef ADCLICK_VERSION
#define ADCLICK_VERSION "0.0.0"
#endif

namespace adclick::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kManifest = "manifest.json";
constexpr const char* kFormat = "adclick-backup";
constexpr int kVersion = 1;
constexpr std::size_t kCopyBuffer = 1 << 20;
constexpr std::uint64_t kWritebackEvery = 8 << 20;

std::string errno_text(int e) {
  return std::error_code(e, std::generic_category()).message();
}

// An fd closed at scope exit.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

// XXH3-128 of a byte stream, as 32 hex digits in canonical (big-endian)
// order: what `xxhsum -H2` prints.
class hasher {
 public:
  hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_.get()); }
  void update(const void* p, std::size_t n) { XXH3_128bits_update(state_.get(), p, n); }
  std::string hex() const {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state_.get()));
    std::string out;
    for (unsigned char b : c.digest) out += fmt::format("{:02x}", b);
    return out;
  }

 private:
  struct free_state {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, free_state> state_;
};

std::string hash_text(std::string_view text) {
  hasher h;
  h.update(text.data(), text.size());
  return h.hex();
}

// Paces a backup's reads and writes to `rate` bytes/s (0: no limit), so that
// the click path's fdatasyncs are not stuck behind a burst of writeback.
// It also carries the cancellation of a stopping server.
class pacer {
 public:
  pacer(std::uint64_t rate, const std::atomic<bool>* cancel)
      : rate_(rate), cancel_(cancel), start_(std::chrono::steady_clock::now()) {}
  // False once cancelled.
  bool add(std::uint64_t bytes) {
    if (rate_ != 0) {
      done_ += bytes;
      const auto due = start_ + std::chrono::microseconds(done_ * 1'000'000 / rate_);
      // In slices, so that a cancellation is seen within 100 ms.
      while (!cancelled() && std::chrono::steady_clock::now() < due) {
        std::this_thread::sleep_until(
            std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
      }
    }
    return !cancelled();
  }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }

 private:
  std::uint64_t rate_;
  const std::atomic<bool>* cancel_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t done_ = 0;
};

struct file_sum {
  std::uint64_t bytes = 0;
  std::string xxh3;
};

// Reads `fd` from its start: up to `limit` bytes (all when nullopt),
// hashing them, and writing them to `out` when out >= 0, whose writeback
// starts every few MiB (so the final fsync has little left to write).
bool pump(int fd, std::optional<std::uint64_t> limit, int out, pacer* pace, file_sum& sum,
          std::string& why) {
  std::vector<char> buf(kCopyBuffer);
  hasher h;
  std::uint64_t pos = 0, written_back = 0;
  for (;;) {
    std::size_t want = buf.size();
    if (limit) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *limit - pos));
    if (want == 0) break;
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      why = "read: " + errno_text(errno);
      return false;
    }
    if (n == 0) {
      if (limit) {
        why = fmt::format("ends at byte {}, before the {} bytes expected", pos, *limit);
        return false;
      }
      break;
    }
    h.update(buf.data(), static_cast<std::size_t>(n));
    for (ssize_t done = 0; out >= 0 && done < n;) {
      const ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        why = "write: " + errno_text(errno);
        return false;
      }
      done += w;
    }
    pos += static_cast<std::uint64_t>(n);
    if (out >= 0 && pos - written_back >= kWritebackEvery) {
      ::sync_file_range(out, static_cast<off_t>(written_back),
                        static_cast<off_t>(pos - written_back), SYNC_FILE_RANGE_WRITE);
      written_back = pos;
    }
    if (pace != nullptr && !pace->add(static_cast<std::uint64_t>(n))) {
      why = "cancelled: the server is stopping";
      return false;
    }
  }
  sum.bytes = pos;
  sum.xxh3 = h.hex();
  return true;
}

// Size and checksum of a whole file.
bool sum_file(const std::string& path, file_sum& sum, std::string& why, pacer* pace = nullptr) {
  fd_guard in(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.fd < 0) {
    why = "open: " + errno_text(errno);
    return false;
  }
  return pump(in.fd, std::nullopt, -1, pace, sum, why);
}

// A directory's fsync (file_system::sync_dir), with the one-line error.
bool sync_dir(const std::string& dir, std::string& why) {
  if (auto ec = base::posix_file_system().sync_dir(dir)) {
    why = fmt::format("fsync {}: {}", dir, ec.message());
    return false;
  }
  return true;
}

bool fsync_path(const std::string& path, std::string& why) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0 || ::fsync(fd.fd) != 0) {
    why = fmt::format("fsync {}: {}", path, errno_text(errno));
    return false;
  }
  return true;
}

// Copies the first `limit` bytes of `from` (all when nullopt) to the new
// file `to`, fsynced; `sum` is what was written.
bool copy_file(const std::string& from, const std::string& to, std::optional<std::uint64_t> limit,
               file_sum& sum, std::string& why, pacer* pace = nullptr) {
  fd_guard in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.fd < 0) {
    why = fmt::format("open {}: {}", from, errno_text(errno));
    return false;
  }
  fd_guard out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (out.fd < 0) {
    why = fmt::format("create {}: {}", to, errno_text(errno));
    return false;
  }
  if (!pump(in.fd, limit, out.fd, pace, sum, why)) {
    why = fmt::format("copy {}: {}", from, why);
    return false;
  }
  if (::fsync(out.fd) != 0) {
    why = fmt::format("fsync {}: {}", to, errno_text(errno));
    return false;
  }
  return true;
}

// Hard-links `from` as `to` (copies it across file systems), fsynced;
// `linked` says which.
bool link_or_copy(const std::string& from, const std::string& to, file_sum& sum, bool& linked,
                  std::string& why, pacer* pace) {
  linked = ::link(from.c_str(), to.c_str()) == 0;
  if (!linked) {
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP) {
      why = fmt::format("link {} to {}: {}", from, to, errno_text(errno));
      return false;
    }
    return copy_file(from, to, std::nullopt, sum, why, pace);
  }
  if (!sum_file(to, sum, why, pace)) {
    why = fmt::format("{}: {}", to, why);
    return false;
  }
  return fsync_path(to, why);
}

// The directories under (and including) `root`, deepest first, fsynced.
bool sync_dirs(const std::string& root, std::string& why) {
  std::vector<std::string> dirs{root};
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path().string());
  }
  if (ec) {
    why = fmt::format("list {}: {}", root, ec.message());
    return false;
  }
  std::reverse(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    if (!sync_dir(d, why)) return false;
  }
  return true;
}

// `dir` without "." or ".." steps and without a trailing slash (so that its
// parent_path() is its parent).
std::string clean_dir(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p.string();
}

// An absent directory is created; an existing one must be empty.
bool prepare_empty_dir(const std::string& dir, std::string_view what, backup_failure& kind,
                       std::string& why) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      kind = backup_failure::invalid;
      why = fmt::format("{} {} exists and is not a directory", what, dir);
      return false;
    }
    if (!fs::is_empty(dir, ec) || ec) {
      kind = backup_failure::conflict;
      why =
          ec ? fmt::format("{} {}: {}", what, dir, ec.message())
             : fmt::format("{} {} is not empty (refusing to write over what is there)", what, dir);
      return false;
    }
    return true;
  }
  if (!fs::create_directory(dir, ec) || ec) {
    kind = ec == std::errc::no_such_file_or_directory ? backup_failure::invalid
                                                      : backup_failure::failed;
    why = fmt::format("cannot create {} {}: {}", what, dir, ec ? ec.message() : "not created");
    return false;
  }
  const std::string parent = fs::path(dir).parent_path().string();
  return sync_dir(parent.empty() ? "/" : parent, why);
}

json file_entry(const std::string& name, const file_sum& sum) {
  return json{{"path", name}, {"bytes", sum.bytes}, {"xxh3_128", sum.xxh3}};
}

// The manifest's text: `m` with the checksum of its own text added.
std::string seal_manifest(json m) {
  m.erase("manifestXxh3_128");
  m["manifestXxh3_128"] = hash_text(m.dump());
  return m.dump(2) + "\n";
}

// A manifest's field, or the fallback when it is missing or of another type.
std::string str_field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::uint64_t uint_field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Parses and checks a manifest's shape and own checksum.
bool read_manifest(const std::string& dir, json& m, std::string& why) {
  auto text = base::read_file(base::posix_file_system(), fmt::format("{}/{}", dir, kManifest));
  if (!text) {
    why = fmt::format("{}/{}: {} (not a backup, or an incomplete one)", dir, kManifest,
                      text.error().message());
    return false;
  }
  m = json::parse(*text, nullptr, false);
  if (m.is_discarded() || !m.is_object() || str_field(m, "format") != kFormat) {
    why = fmt::format("{}/{}: not an adclick backup manifest", dir, kManifest);
    return false;
  }
  if (uint_field(m, "version") != static_cast<std::uint64_t>(kVersion)) {
    why = fmt::format("{}/{}: backup format version {} (this build reads {})", dir, kManifest,
                      uint_field(m, "version"), kVersion);
    return false;
  }
  const std::string want = str_field(m, "manifestXxh3_128");
  json rest = m;
  rest.erase("manifestXxh3_128");
  if (want.empty() || hash_text(rest.dump()) != want) {
    why = fmt::format("{}/{}: its checksum does not match its contents (damaged or edited)", dir,
                      kManifest);
    return false;
  }
  if (!m.contains("files") || !m["files"].is_array()) {
    why = fmt::format("{}/{}: no file list", dir, kManifest);
    return false;
  }
  for (const auto& f : m["files"]) {
    // Only regular names under log/ and state/: a manifest may come from
    // anywhere, and a restore must not write (or read) outside them.
    const std::string path = f.is_object() ? str_field(f, "path") : std::string();
    const bool known_dir = path.rfind("log/", 0) == 0 || path.rfind("state/", 0) == 0;
    if (!f.is_object() || !known_dir || path.find("..") != std::string::npos ||
        path.find("//") != std::string::npos || path.back() == '/' || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || str_field(f, "xxh3_128").size() != 32) {
      why = fmt::format("{}/{}: a malformed file entry ({})", dir, kManifest, f.dump());
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> take_backup(log::segmented_log& log, state::store& st,
                                       const std::string& data_dir, const std::string& dest,
                                       std::uint64_t max_rate, const std::atomic<bool>* cancel,
                                       backup_error& err) {
  pacer pace(max_rate, cancel);
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t started_ms = base::wall_now_ms();
  if (dest.empty() || dest.front() != '/') {
    err = {backup_failure::invalid,
           fmt::format("path must be an absolute directory path (got \"{}\")", dest)};
    return std::nullopt;
  }
  const std::string root = clean_dir(dest);
  // Inside the data dir it would become part of what it copies (and a
  // directory among a partition's segments stops the log from opening).
  {
    std::error_code ec;
    const fs::path live = fs::weakly_canonical(fs::absolute(data_dir, ec), ec);
    const fs::path target = fs::weakly_canonical(root, ec);
    const auto [end, unused] =
        std::mismatch(live.begin(), live.end(), target.begin(), target.end());
    if (!ec && end == live.end()) {
      err = {backup_failure::invalid,
             fmt::format("path {} is inside the data dir {}: choose a directory outside it", root,
                         live.string())};
      return std::nullopt;
    }
  }
  if (!prepare_empty_dir(root, "backup directory", err.kind, err.line)) return std::nullopt;
  auto fail = [&](std::string line) {
    err = {backup_failure::failed, std::move(line)};
    return std::nullopt;
  };

  // 1. No segment goes while the backup runs.
  std::vector<std::shared_ptr<void>> pins;
  for (std::uint32_t p = 0; p < log.partitions(); ++p) pins.push_back(log.pin(p, 0));
  // 2. The state as of now: every offset in it is durable in the log now.
  if (st.checkpoint(root + "/state", err.line)) return fail(err.line);
  // 3. The log up to its durable end, which is at or above those offsets.
  std::vector<log::backup_file> plan;
  std::vector<log::partition_cut> cuts;
  if (auto ec = log.backup_plan(plan, cuts)) {
    return fail(
        fmt::format("the log cannot be backed up: {}{}", ec.message(),
                    log.fenced() ? " (a segment fdatasync failed; restart the server first)" : ""));
  }

  json files = json::array();
  std::uint64_t total_bytes = 0, linked_files = 0;
  std::string why;
  std::set<std::string> made_dirs;
  for (const auto& f : plan) {
    const std::string to = fmt::format("{}/log/{}", root, f.name);
    const std::string dir = fs::path(to).parent_path().string();
    if (made_dirs.insert(dir).second) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return fail(fmt::format("create {}: {}", dir, ec.message()));
    }
    file_sum sum;
    bool linked = false;
    const bool ok = f.immutable
                        ? link_or_copy(f.source, to, sum, linked, why, &pace)
                        : copy_file(f.source, to, f.whole ? std::nullopt : std::optional(f.bytes),
                                    sum, why, &pace);
    if (!ok) return fail(why);
    linked_files += linked ? 1 : 0;
    total_bytes += sum.bytes;
    files.push_back(file_entry("log/" + f.name, sum));
  }
  pins.clear();
  // The checkpoint's files: checksummed and synced (RocksDB links its SST
  // files and copies the rest).
  std::vector<std::string> state_files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root + "/state", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) state_files.push_back(it->path().string());
  }
  if (ec) return fail(fmt::format("list {}/state: {}", root, ec.message()));
  std::sort(state_files.begin(), state_files.end());
  for (const auto& path : state_files) {
    file_sum sum;
    if (!sum_file(path, sum, why, &pace)) return fail(fmt::format("{}: {}", path, why));
    if (!fsync_path(path, why)) return fail(why);
    total_bytes += sum.bytes;
    files.push_back(file_entry(path.substr(root.size() + 1), sum));
  }
  if (!sync_dirs(root, why)) return fail(why);

  json cut = json::array();
  std::uint64_t records = 0;
  for (const auto& c : cuts) {
    cut.push_back({{"partition", c.partition}, {"start", c.start}, {"end", c.end}});
    records += c.end - c.start;
    // Offsets the log lost (recorded holes) hold no record.
    for (const auto& h : log.holes(c.partition)) {
      const auto from = std::max(h.from, c.start), to = std::min(h.to, c.end);
      if (from < to) records -= to - from;
    }
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  json m{{"format", kFormat},
         {"version", kVersion},
         {"adclickVersion", ADCLICK_VERSION},
         {"createdAt", base::format_time_ms(started_ms)},
         {"partitions", cuts.size()},
         {"cut", cut},
         {"records", records},
         {"files", files},
         {"fileCount", files.size()},
         {"bytes", total_bytes},
         {"hardLinkedFiles", linked_files},
         {"tookMs", took}};
  const std::string text = seal_manifest(std::move(m));
  if (auto wec = base::write_file_durably(base::posix_file_system(), root, kManifest, text)) {
    return fail(fmt::format("write {}/{}: {}", root, kManifest, wec.message()));
  }
  return text;
}

bool verify_backup(const std::string& dir, std::string& line) {
  json m;
  if (!read_manifest(dir, m, line)) return false;
  std::uint64_t bytes = 0;
  for (const auto& f : m["files"]) {
    const std::string path = fmt::format("{}/{}", dir, f["path"].get<std::string>());
    file_sum sum;
    std::string why;
    if (!sum_file(path, sum, why)) {
      line = fmt::format("{}: {}", path, why);
      return false;
    }
    if (sum.bytes != f["bytes"].get<std::uint64_t>() ||
        sum.xxh3 != f["xxh3_128"].get<std::string>()) {
      line = fmt::format("{}: {} bytes, XXH3-128 {}; the manifest says {} bytes, {} (damaged)",
                         path, sum.bytes, sum.xxh3, f["bytes"].get<std::uint64_t>(),
                         f["xxh3_128"].get<std::string>());
      return false;
    }
    bytes += sum.bytes;
  }
  line = fmt::format("backup {}: ok: {} files, {} bytes, {} partitions, {} records, taken {}", dir,
                     m["files"].size(), bytes, uint_field(m, "partitions"),
                     uint_field(m, "records"), str_field(m, "createdAt"));
  return true;
}

bool restore_backup(const std::string& from, const std::string& data_dir, std::string& line) {
  std::string checked;
  if (!verify_backup(from, checked)) {
    line = "the backup does not verify: " + checked;
    return false;
  }
  backup_failure kind{};
  const std::string root = clean_dir(data_dir);
  if (!prepare_empty_dir(root, "data dir", kind, line)) return false;
  json m;
  if (!read_manifest(from, m, line)) return false;
  // The data dir's lock keeps a server out while the files go in, and the
  // marker keeps one from starting on a restore that did not finish.
  long holder = 0;
  auto lock = base::lock_file::acquire(root + "/LOCK", &holder);
  if (!lock) {
    line = fmt::format("cannot lock {}/LOCK: {}", root, lock.error().message());
    return false;
  }
  const std::string marker = fmt::format("{}/{}", root, kRestoringMarker);
  if (auto ec = base::write_file_durably(base::posix_file_system(), root, kRestoringMarker,
                                         fmt::format("restoring from {}\n", from))) {
    line = fmt::format("write {}: {}", marker, ec.message());
    return false;
  }
  std::set<std::string> made_dirs;
  for (const auto& f : m["files"]) {
    const std::string name = f["path"].get<std::string>();
    const std::string to = fmt::format("{}/{}", root, name);
    const std::string dir = fs::path(to).parent_path().string();
    if (made_dirs.insert(dir).second) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) {
        line = fmt::format("create {}: {}", dir, ec.message());
        return false;
      }
    }
    file_sum sum;
    if (!copy_file(fmt::format("{}/{}", from, name), to, std::nullopt, sum, line)) return false;
    // Checked again as written: the backup could change under a restore.
    if (sum.bytes != f["bytes"].get<std::uint64_t>() ||
        sum.xxh3 != f["xxh3_128"].get<std::string>()) {
      line = fmt::format("{}: changed while it was restored (now {} bytes, XXH3-128 {})",
                         fmt::format("{}/{}", from, name), sum.bytes, sum.xxh3);
      return false;
    }
  }
  if (!sync_dirs(root, line)) return false;
  // Complete: the marker goes last, durably.
  if (::unlink(marker.c_str()) != 0) {
    line = fmt::format("remove {}: {}", marker, errno_text(errno));
    return false;
  }
  if (!sync_dir(root, line)) return false;
  line = fmt::format("restored {} into {}: {} files, {} partitions, {} records (the cut of {})",
                     from, root, m["files"].size(), uint_field(m, "partitions"),
                     uint_field(m, "records"), str_field(m, "createdAt"));
  return true;
}

}  // namespace adclick::app
