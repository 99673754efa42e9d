#pragma once
// An exclusive lock on a data directory (flock on <dir>/LOCK), so that two
// adclick processes never share one. Released when the object is destroyed or
// the process dies.

#include <string>

#include "adclick/result.h"

namespace adclick::base {

class lock_file {
 public:
  // Takes the lock, writing this process's pid into the file. When another
  // process holds it, fails with EWOULDBLOCK and sets *holder_pid (0 if unknown).
  [[nodiscard]] static result<lock_file> acquire(const std::string& path, long* holder_pid);

  lock_file(lock_file&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  lock_file& operator=(lock_file&& other) noexcept;
  lock_file(const lock_file&) = delete;
  lock_file& operator=(const lock_file&) = delete;
  ~lock_file();

 private:
  explicit lock_file(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace adclick::base
