#include "base/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace adclick::base {

result<lock_file> lock_file::acquire(const std::string& path, long* holder_pid) {
  if (holder_pid != nullptr) *holder_pid = 0;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return std::error_code(errno, std::system_category());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (holder_pid != nullptr) {
      char buf[32] = {};
      const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      if (n > 0) *holder_pid = std::strtol(buf, nullptr, 10);
    }
    ::close(fd);
    return std::error_code(err, std::system_category());
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    const int err = errno;
    ::close(fd);
    return std::error_code(err, std::system_category());
  }
  return lock_file(fd);
}

lock_file& lock_file::operator=(lock_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

lock_file::~lock_file() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace adclick::base
