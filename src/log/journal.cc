#include "log/journal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/file_system.h"
#include "log/record_format.h"

namespace adclick::log {
namespace {

const char* const kNames[2] = {"commit-0.jnl", "commit-1.jnl"};

struct parsed_file {
  std::string bytes;
  std::uint64_t first_seq = 0;  // 0: no valid record
};

// The commit record at `pos` has a header, fits in `b` and its checksum
// matches.
bool intact_commit(const std::string& b, std::size_t pos) {
  if (pos + format::kJournalHeaderSize > b.size()) return false;
  const char* h = b.data() + pos;
  const std::uint32_t len = base::get_u32(h + 4);
  return pos + format::kJournalHeaderSize + len <= b.size() &&
         base::checksum32(h + 4, format::kJournalHeaderSize - 4 + len) == base::get_u32(h);
}

// The chunks of the intact commit record at `h`; false when its entries do
// not fit in it.
bool parse_chunks(const char* h, std::vector<journal_chunk>& chunks) {
  const char* end = h + format::kJournalHeaderSize + base::get_u32(h + 4);
  const std::uint32_t n = base::get_u32(h + 16);
  const char* entry = h + format::kJournalHeaderSize;
  const char* frames = entry + std::size_t{n} * format::kJournalChunkSize;
  if (frames > end) return false;
  chunks.clear();
  for (std::uint32_t i = 0; i < n; ++i, entry += format::kJournalChunkSize) {
    journal_chunk c;
    c.partition = base::get_u32(entry);
    c.first_offset = base::get_u64(entry + 4);
    c.records = base::get_u32(entry + 12);
    const std::uint32_t nbytes = base::get_u32(entry + 16);
    if (frames + nbytes > end) return false;
    c.frames = std::string_view(frames, nbytes);
    frames += nbytes;
    chunks.push_back(c);
  }
  return true;
}

// Delivers the commits of one file in order, up to the first that is not
// intact or not the next in sequence.
void replay_file(const std::string& b, const char* name, const std::function<void(const journal_chunk&)>& fn,
                 std::uint64_t& records, std::uint64_t& damaged, std::uint64_t& next_seq) {
  std::vector<journal_chunk> chunks;
  std::size_t pos = 0;
  bool first_record = true;
  std::uint64_t expect_seq = 0;
  while (pos + format::kJournalHeaderSize <= b.size()) {
    const char* h = b.data() + pos;
    const std::size_t next = pos + format::kJournalHeaderSize + base::get_u32(h + 4);
    if (!intact_commit(b, pos)) {
      // A torn record (an unfinished commit, never acknowledged), zeros, or
      // bytes left from before a reuse end the file. It is damage only if
      // the next commit follows intact, which an unfinished one never has.
      if (!first_record && next <= b.size() && intact_commit(b, next) &&
          base::get_u64(b.data() + next + 8) == expect_seq + 1) {
        ++damaged;
        spdlog::error("log: journal {}: damaged commit record at byte {}", name, pos);
      }
      return;
    }
    const std::uint64_t seq = base::get_u64(h + 8);
    if (!first_record && seq != expect_seq) return;  // left from before a reuse
    first_record = false;
    expect_seq = seq + 1;
    if (!parse_chunks(h, chunks)) {
      ++damaged;
      return;
    }
    for (const auto& c : chunks) fn(c);
    ++records;
    next_seq = std::max(next_seq, seq + 1);
    pos = next;
  }
}

}  // namespace

journal::journal(base::file_system& fs, std::string dir, std::uint64_t preallocate)
    : fs_(fs), dir_(std::move(dir)), preallocate_(preallocate) {}

journal::~journal() {
  for (int fd : fd_) {
    if (fd >= 0) fs_.close(fd);
  }
}

std::error_code journal::replay(const std::function<void(const journal_chunk&)>& fn,
                                std::uint64_t& records, std::uint64_t& damaged) {
  records = 0;
  damaged = 0;
  if (auto ec = fs_.make_dirs(dir_)) return ec;
  auto names = fs_.list(dir_);
  if (!names) return names.error();
  for (const auto& n : *names) {
    if (n != kNames[0] && n != kNames[1]) {
      spdlog::error("log: unexpected file '{}' in {}", n, dir_);
    }
  }
  parsed_file files[2];
  for (int i = 0; i < 2; ++i) {
    auto bytes = base::read_file(fs_, dir_ + "/" + kNames[i]);
    if (!bytes) {
      if (bytes.error() == std::errc::no_such_file_or_directory) continue;
      return bytes.error();
    }
    files[i].bytes = std::move(*bytes);
    if (intact_commit(files[i].bytes, 0)) files[i].first_seq = base::get_u64(files[i].bytes.data() + 8);
  }
  // Older file first, so each partition's chunks arrive in offset order.
  int order[2] = {0, 1};
  if (files[1].first_seq != 0 && (files[0].first_seq == 0 || files[1].first_seq < files[0].first_seq)) {
    std::swap(order[0], order[1]);
  }
  for (int idx : order) replay_file(files[idx].bytes, kNames[idx], fn, records, damaged, next_seq_);
  return {};
}

std::error_code journal::open() {
  if (auto ec = fs_.make_dirs(dir_)) return ec;
  static const std::string zeros(1 << 20, '\0');
  bool created = false;
  for (int i = 0; i < 2; ++i) {
    if (fd_[i] >= 0) continue;
    const std::string path = dir_ + "/" + kNames[i];
    auto fd = fs_.open(path, O_RDWR | O_CREAT);
    if (!fd) return fd.error();
    fd_[i] = *fd;
    auto size = fs_.size(fd_[i]);
    if (!size) return size.error();
    if (*size < preallocate_) {
      for (std::uint64_t at = *size; at < preallocate_; at += zeros.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), preallocate_ - at));
        if (auto ec = fs_.pwrite_all(fd_[i], zeros.data(), n, at)) return ec;
      }
      if (auto ec = fs_.sync(fd_[i])) return ec;
      created = true;
    }
    size_[i] = 0;
  }
  current_ = 0;
  // Everything replayed is in synced segments now: invalidate both files'
  // first records, so that no record from before can be replayed again (a
  // stale run at the head of a file would look like the journal's coverage
  // and start a recovery's rewrite below records it does not hold).
  if (auto ec = clear()) return ec;
  return created ? fs_.sync_dir(dir_) : std::error_code{};
}

std::error_code journal::clear() {
  const std::string head(format::kJournalHeaderSize, '\0');
  for (int fd : fd_) {
    if (fd < 0) continue;
    if (auto ec = fs_.pwrite_all(fd, head.data(), head.size(), 0)) return ec;
    if (auto ec = fs_.datasync(fd)) return ec;
  }
  size_[0] = size_[1] = 0;
  current_ = 0;
  return {};
}

void journal::switch_files() {
  current_ = 1 - current_;
  size_[current_] = 0;
}

std::error_code journal::append(const std::vector<journal_chunk>& chunks) {
  std::size_t frames = 0;
  for (const auto& c : chunks) frames += c.frames.size();
  const std::size_t len = chunks.size() * format::kJournalChunkSize + frames;
  buf_.resize(format::kJournalHeaderSize + len);
  char* h = buf_.data();
  base::put_u32(h + 4, static_cast<std::uint32_t>(len));
  base::put_u64(h + 8, next_seq_);
  base::put_u32(h + 16, static_cast<std::uint32_t>(chunks.size()));
  char* e = h + format::kJournalHeaderSize;
  char* f = e + chunks.size() * format::kJournalChunkSize;
  for (const auto& c : chunks) {
    base::put_u32(e, c.partition);
    base::put_u64(e + 4, c.first_offset);
    base::put_u32(e + 12, c.records);
    base::put_u32(e + 16, static_cast<std::uint32_t>(c.frames.size()));
    e += format::kJournalChunkSize;
    std::memcpy(f, c.frames.data(), c.frames.size());
    f += c.frames.size();
  }
  base::put_u32(h, base::checksum32(h + 4, buf_.size() - 4));
  const int fd = fd_[current_];
  const std::uint64_t at = size_[current_];
  std::error_code ec = fs_.pwrite_all(fd, buf_.data(), buf_.size(), at);
  if (!ec) ec = fs_.datasync(fd);
  if (ec) {
    // Zero what was written so no part of the failed commit can be replayed.
    std::memset(buf_.data(), 0, buf_.size());
    (void)fs_.pwrite_all(fd, buf_.data(), buf_.size(), at);
    return ec;
  }
  size_[current_] += buf_.size();
  ++next_seq_;
  return {};
}

}  // namespace adclick::log
