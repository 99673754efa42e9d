#include "base/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace adclick::base {
namespace {
std::error_code last_error() { return {errno, std::system_category()}; }
}  // namespace

result<int> file_system::open(const std::string& path, int flags, mode_t mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return last_error();
  return fd;
}

void file_system::close(int fd) { ::close(fd); }

std::error_code file_system::write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

std::error_code file_system::pwrite_all(int fd, const char* data, std::size_t n,
                                        std::uint64_t pos) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(pos));
    if (w < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    pos += static_cast<std::uint64_t>(w);
  }
  return {};
}

result<std::size_t> file_system::pread(int fd, char* buf, std::size_t n, std::uint64_t pos) {
  for (;;) {
    const ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(pos));
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) return last_error();
  }
}

std::error_code file_system::datasync(int fd) {
  if (::fdatasync(fd) != 0) return last_error();
  return {};
}

void file_system::start_writeback(int fd, std::uint64_t pos, std::uint64_t n) {
  (void)::sync_file_range(fd, static_cast<off64_t>(pos), static_cast<off64_t>(n), SYNC_FILE_RANGE_WRITE);
}

std::error_code file_system::sync(int fd) {
  if (::fsync(fd) != 0) return last_error();
  return {};
}

std::error_code file_system::truncate(int fd, std::uint64_t size) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return last_error();
  if (::lseek(fd, static_cast<off_t>(size), SEEK_SET) < 0) return last_error();
  return {};
}

result<std::uint64_t> file_system::size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return last_error();
  return static_cast<std::uint64_t>(st.st_size);
}

std::error_code file_system::sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_error();
  ::close(fd);
  return ec;
}

std::error_code file_system::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return last_error();
  return {};
}

std::error_code file_system::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return last_error();
  return {};
}

std::error_code file_system::make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  return ec;
}

result<std::vector<std::string>> file_system::list(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return last_error();
  std::vector<std::string> names;
  // readdir is safe on a DIR* that no other thread uses.
  while (const dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

file_system& posix_file_system() {
  static file_system fs;
  return fs;
}

std::error_code write_file_durably(file_system& fs, const std::string& dir, const std::string& name,
                                   const std::string& bytes) {
  const std::string tmp = dir + "/" + name + ".tmp";
  auto fd = fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!fd) return fd.error();
  std::error_code ec = fs.write_all(*fd, bytes.data(), bytes.size());
  if (!ec) ec = fs.sync(*fd);
  fs.close(*fd);
  if (!ec) ec = fs.rename(tmp, dir + "/" + name);
  if (!ec) ec = fs.sync_dir(dir);
  if (ec) (void)fs.remove(tmp);
  return ec;
}

result<std::string> read_file(file_system& fs, const std::string& path) {
  auto fd = fs.open(path, O_RDONLY);
  if (!fd) return fd.error();
  std::string out;
  char buf[64 * 1024];
  std::uint64_t pos = 0;
  for (;;) {
    auto n = fs.pread(*fd, buf, sizeof buf, pos);
    if (!n) {
      fs.close(*fd);
      return n.error();
    }
    if (*n == 0) break;
    out.append(buf, *n);
    pos += *n;
  }
  fs.close(*fd);
  return out;
}

}  // namespace adclick::base
