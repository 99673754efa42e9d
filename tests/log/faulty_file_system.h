#pragma once
// A real POSIX file system that fails chosen operations on demand, for the
// log's error-path tests.

#include <atomic>
#include <fcntl.h>

#include <cerrno>

#include "base/file_system.h"

namespace adclick::log::test {

class faulty_file_system : public base::file_system {
 public:
  // Every write fails with this errno (0: writes work). A failing write first
  // writes half its bytes, as a disk that fills up mid-write does.
  std::atomic<int> write_errno{0};
  // Every fdatasync fails with this errno (0: syncs work).
  std::atomic<int> sync_errno{0};
  // Creating files fails with this errno (0: works).
  std::atomic<int> create_errno{0};

  result<int> open(const std::string& path, int flags, mode_t mode) override {
    if ((flags & O_CREAT) != 0 && create_errno.load() != 0) {
      return std::error_code(create_errno.load(), std::system_category());
    }
    return file_system::open(path, flags, mode);
  }
  std::error_code write_all(int fd, const char* data, std::size_t n) override {
    if (const int e = write_errno.load()) {
      (void)file_system::write_all(fd, data, n / 2);
      return {e, std::system_category()};
    }
    return file_system::write_all(fd, data, n);
  }
  std::error_code pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t pos) override {
    if (const int e = write_errno.load()) {
      (void)file_system::pwrite_all(fd, data, n / 2, pos);
      return {e, std::system_category()};
    }
    return file_system::pwrite_all(fd, data, n, pos);
  }
  std::error_code datasync(int fd) override {
    if (const int e = sync_errno.load()) return {e, std::system_category()};
    return file_system::datasync(fd);
  }
};

}  // namespace adclick::log::test
