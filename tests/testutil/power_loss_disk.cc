#include "testutil/power_loss_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace adclick::testutil {
namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The real bytes of page `page` of `path` (short or empty past the end).
std::string read_page(const std::string& path, std::uint64_t page) {
  std::string buf(power_loss_disk::kPage, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(page * power_loss_disk::kPage));
  ::close(fd);
  buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buf;
}

std::uint64_t real_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// Puts `bytes` at page `page` of `image`, growing it with zeros as needed.
void put_page(std::string& image, std::uint64_t page, const std::string& bytes) {
  const std::uint64_t at = page * power_loss_disk::kPage;
  if (image.size() < at + bytes.size()) image.resize(at + bytes.size(), '\0');
  image.replace(at, bytes.size(), bytes);
}

}  // namespace

power_loss_disk::power_loss_disk(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files_[it->path().string()].durable = read_whole(it->path().string());
  }
}

power_loss_disk::file_state& power_loss_disk::state_for(const std::string& path) { return files_[path]; }

void power_loss_disk::created(const std::string& path) {
  std::lock_guard lk(mu_);
  files_[path] = file_state{};
}

void power_loss_disk::written(const std::string& path, std::uint64_t pos, std::uint64_t n) {
  if (n == 0) return;
  std::lock_guard lk(mu_);
  auto& f = state_for(path);
  for (std::uint64_t p = pos / kPage; p <= (pos + n - 1) / kPage; ++p) f.dirty.insert(p);
  if (pos + n > f.durable.size()) f.size_dirty = true;
}

void power_loss_disk::resized(const std::string& path) {
  std::lock_guard lk(mu_);
  auto& f = state_for(path);
  f.size_dirty = true;
  // The page the new end falls in changes too (its tail is zeroed).
  const std::uint64_t size = real_size(path);
  if (size % kPage != 0) f.dirty.insert(size / kPage);
}

void power_loss_disk::renamed(const std::string& from, const std::string& to) {
  std::lock_guard lk(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return;
  files_[to] = std::move(it->second);
  files_.erase(from);
}

void power_loss_disk::removed(const std::string& path) {
  std::lock_guard lk(mu_);
  files_.erase(path);
}

bool power_loss_disk::sync(const std::string& path) {
  std::lock_guard lk(mu_);
  auto& f = state_for(path);
  if (fail_next_ && fail_next_(path)) {
    // The writeback failed and the kernel marked the pages clean: they are
    // not on the disk, and no later fdatasync will write them.
    fail_next_ = nullptr;
    ++failures_;
    f.dirty.clear();
    return false;
  }
  const std::uint64_t size = real_size(path);
  if (f.size_dirty) {
    // Pages past the old end that were never synced read back as zeros.
    f.durable.resize(size, '\0');
    f.size_dirty = false;
  }
  for (std::uint64_t p : f.dirty) {
    if (p * kPage >= size) continue;
    std::string bytes = read_page(path, p);
    put_page(f.durable, p, bytes);
  }
  if (f.durable.size() > size) f.durable.resize(size);
  f.dirty.clear();
  return true;
}

void power_loss_disk::fail_next_sync(std::function<bool(const std::string&)> matches) {
  std::lock_guard lk(mu_);
  fail_next_ = std::move(matches);
}

bool power_loss_disk::failure_pending() const {
  std::lock_guard lk(mu_);
  return static_cast<bool>(fail_next_);
}

std::uint64_t power_loss_disk::failures_injected() const {
  std::lock_guard lk(mu_);
  return failures_;
}

void power_loss_disk::image(const std::string& dest, std::mt19937_64& rng, bool partial,
                            const std::function<void()>& also) {
  std::lock_guard lk(mu_);
  if (also) also();
  write_image(
      dest, [&](const std::string&, std::uint64_t) { return partial && (rng() & 1) != 0; },
      [&](const std::string&) { return partial && (rng() & 1) != 0; });
}

void power_loss_disk::image(const std::string& dest,
                            const std::function<bool(const std::string&, std::uint64_t)>& keep) {
  std::lock_guard lk(mu_);
  write_image(dest, keep, [&](const std::string& path) {
    const auto& f = files_.at(path);
    for (std::uint64_t p : f.dirty) {
      if (keep(path, p)) return true;
    }
    return false;
  });
}

void power_loss_disk::write_image(const std::string& dest,
                                  const std::function<bool(const std::string&, std::uint64_t)>& keep,
                                  const std::function<bool(const std::string&)>& keep_size) {
  std::filesystem::create_directories(dest);
  // Directories as they are (namespace operations count as durable).
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory()) {
      std::filesystem::create_directories(dest + it->path().string().substr(root_.size()));
    }
  }
  for (const auto& [path, f] : files_) {
    if (path.compare(0, root_.size(), root_) != 0) continue;
    std::string content = f.durable;
    if (f.size_dirty && keep_size(path)) content.resize(real_size(path), '\0');
    for (std::uint64_t p : f.dirty) {
      if (p * kPage >= content.size() || !keep(path, p)) continue;  // never reached the disk
      std::string bytes = read_page(path, p);
      if (p * kPage + bytes.size() > content.size()) bytes.resize(content.size() - p * kPage);
      put_page(content, p, bytes);
    }
    const std::string out = dest + path.substr(root_.size());
    std::filesystem::create_directories(std::filesystem::path(out).parent_path());
    std::ofstream o(out, std::ios::binary | std::ios::trunc);
    o.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!o) throw std::runtime_error("power_loss_disk: cannot write " + out);
  }
}

// --- power_loss_file_system -----------------------------------------------------

std::string power_loss_file_system::path_of(int fd) {
  std::lock_guard lk(mu_);
  auto it = paths_.find(fd);
  return it == paths_.end() ? std::string() : it->second;
}

result<int> power_loss_file_system::open(const std::string& path, int flags, mode_t mode) {
  const bool existed = std::filesystem::exists(path);
  auto fd = file_system::open(path, flags, mode);
  if (!fd) return fd;
  {
    std::lock_guard lk(mu_);
    paths_[*fd] = path;
  }
  if (!existed) disk_.created(path);
  if ((flags & O_TRUNC) != 0) disk_.resized(path);
  return fd;
}

void power_loss_file_system::close(int fd) {
  {
    std::lock_guard lk(mu_);
    paths_.erase(fd);
  }
  file_system::close(fd);
}

std::error_code power_loss_file_system::write_all(int fd, const char* data, std::size_t n) {
  const off_t pos = ::lseek(fd, 0, SEEK_CUR);
  auto ec = file_system::write_all(fd, data, n);
  if (pos >= 0) disk_.written(path_of(fd), static_cast<std::uint64_t>(pos), n);
  return ec;
}

std::error_code power_loss_file_system::pwrite_all(int fd, const char* data, std::size_t n,
                                                   std::uint64_t pos) {
  auto ec = file_system::pwrite_all(fd, data, n, pos);
  disk_.written(path_of(fd), pos, n);
  return ec;
}

std::error_code power_loss_file_system::datasync(int fd) {
  if (!disk_.sync(path_of(fd))) return {EIO, std::system_category()};
  return file_system::datasync(fd);
}

std::error_code power_loss_file_system::sync(int fd) {
  if (!disk_.sync(path_of(fd))) return {EIO, std::system_category()};
  return file_system::sync(fd);
}

std::error_code power_loss_file_system::truncate(int fd, std::uint64_t size) {
  auto ec = file_system::truncate(fd, size);
  disk_.resized(path_of(fd));
  return ec;
}

std::error_code power_loss_file_system::rename(const std::string& from, const std::string& to) {
  auto ec = file_system::rename(from, to);
  if (!ec) disk_.renamed(from, to);
  return ec;
}

std::error_code power_loss_file_system::remove(const std::string& path) {
  auto ec = file_system::remove(path);
  if (!ec) disk_.removed(path);
  return ec;
}

}  // namespace adclick::testutil
