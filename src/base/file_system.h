#pragma once
// The file operations the log and the state snapshot perform, behind an interface so tests can inject
// faults (ENOSPC, EIO, failed fsync) into a real log on real files.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "adclick/result.h"

namespace adclick::base {

class file_system {
 public:
  virtual ~file_system() = default;

  virtual result<int> open(const std::string& path, int flags, mode_t mode = 0644);
  virtual void close(int fd);
  // Writes all n bytes at the file's current position, retrying short writes.
  // On error the file may hold part of the data: the caller truncates.
  virtual std::error_code write_all(int fd, const char* data, std::size_t n);
  // Writes all n bytes at file position pos, retrying short writes. On error
  // the file may hold part of the data: the caller cuts it back.
  virtual std::error_code pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t pos);
  // Reads up to n bytes at pos; returns how many (0 at end of file).
  virtual result<std::size_t> pread(int fd, char* buf, std::size_t n, std::uint64_t pos);
  virtual std::error_code datasync(int fd);
  // Starts writing back [pos, pos + n) without waiting (sync_file_range
  // SYNC_FILE_RANGE_WRITE). No durability promise: a hint only.
  virtual void start_writeback(int fd, std::uint64_t pos, std::uint64_t n);
  virtual std::error_code sync(int fd);
  virtual std::error_code truncate(int fd, std::uint64_t size);
  virtual result<std::uint64_t> size(int fd);
  // fsyncs a directory, making creations, renames and removals in it durable.
  virtual std::error_code sync_dir(const std::string& dir);
  virtual std::error_code rename(const std::string& from, const std::string& to);
  virtual std::error_code remove(const std::string& path);
  virtual std::error_code make_dirs(const std::string& path);
  // Names of the entries in dir (no "." or "..").
  virtual result<std::vector<std::string>> list(const std::string& dir);
};

// The process-wide POSIX implementation.
file_system& posix_file_system();

// Writes a whole file durably: tmp file, fsync, rename, fsync of the directory.
[[nodiscard]] std::error_code write_file_durably(file_system& fs, const std::string& dir,
                                                const std::string& name, const std::string& bytes);
// Reads a whole (small) file.
[[nodiscard]] result<std::string> read_file(file_system& fs, const std::string& path);

}  // namespace adclick::base
