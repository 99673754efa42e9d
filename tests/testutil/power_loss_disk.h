#pragma once
// A model of what a disk holds under a power loss, for crash tests of real
// files (modelled on LevelDB's fault_injection_test and SQLite's crash
// tests). Every write through a wrapped file layer (the log's file_system,
// RocksDB's FileSystem) marks 4 KiB pages of its file dirty; a successful
// fdatasync copies the file's dirty pages, as they are in the page cache, to
// the model's durable image; a failed one (injected) drops them, as Linux
// does when it marks pages clean after a failed writeback, so a later
// fdatasync does not bring them back unless they are written again.
//
// A cut (image()) writes a copy of the tree as the disk would hold it after
// a power loss at that instant: every file's durable image, plus a random
// subset of its dirty pages (the kernel may have written any of them back,
// in any order: later pages kept, earlier ones lost), at its durable or its
// current size. Namespace operations (create, rename, remove) are taken as
// durable at once.
//
// Thread safety: every method locks the one mutex, so a cut is one instant
// for every file of every wrapped layer.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "base/file_system.h"

namespace adclick::testutil {

class power_loss_disk {
 public:
  static constexpr std::uint64_t kPage = 4096;

  // Files already under `root` are taken as durable as they are.
  explicit power_loss_disk(std::string root);

  const std::string& root() const { return root_; }

  // --- called by the wrapped layers, after the real operation -----------------
  void created(const std::string& path);
  void written(const std::string& path, std::uint64_t pos, std::uint64_t n);
  void resized(const std::string& path);
  void renamed(const std::string& from, const std::string& to);
  void removed(const std::string& path);
  // An fdatasync of `path`: true when it is to succeed (the dirty pages are
  // then durable), false when the test injects a failure (they are dropped).
  // The caller makes the real call only when it returns true.
  bool sync(const std::string& path);

  // --- the test ------------------------------------------------------------------
  // The next fdatasync of a file whose path `matches` fails (once).
  void fail_next_sync(std::function<bool(const std::string& path)> matches);
  bool failure_pending() const;
  std::uint64_t failures_injected() const;
  // Writes the tree as a power loss now would leave it under `dest` (same
  // relative paths). `partial`: keep a random subset of unsynced pages (else
  // none). Calls `also` under the lock, so the test can read what had been
  // acknowledged at that very instant.
  void image(const std::string& dest, std::mt19937_64& rng, bool partial,
             const std::function<void()>& also = {});
  // The same with the choice made by the test: `keep(path, page)` says
  // whether an unsynced page reached the disk; a file with any kept page
  // has its current size.
  void image(const std::string& dest,
             const std::function<bool(const std::string& path, std::uint64_t page)>& keep);

 private:
  struct file_state {
    std::string durable;             // the bytes the disk holds for sure
    std::set<std::uint64_t> dirty;   // pages written since their last sync
    bool size_dirty = false;         // size changed since the last sync
  };
  file_state& state_for(const std::string& path);  // mu_ held
  // mu_ held.
  void write_image(const std::string& dest,
                   const std::function<bool(const std::string&, std::uint64_t)>& keep,
                   const std::function<bool(const std::string&)>& keep_size);

  const std::string root_;
  mutable std::mutex mu_;
  std::map<std::string, file_state> files_;  // guarded by mu_, by absolute path
  std::function<bool(const std::string&)> fail_next_;  // guarded by mu_
  std::uint64_t failures_ = 0;                         // guarded by mu_
};

// The log's file layer over a power_loss_disk: real POSIX calls, the model
// told of each.
class power_loss_file_system : public base::file_system {
 public:
  explicit power_loss_file_system(power_loss_disk& disk) : disk_(disk) {}

  result<int> open(const std::string& path, int flags, mode_t mode) override;
  void close(int fd) override;
  std::error_code write_all(int fd, const char* data, std::size_t n) override;
  std::error_code pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t pos) override;
  std::error_code datasync(int fd) override;
  std::error_code sync(int fd) override;
  std::error_code truncate(int fd, std::uint64_t size) override;
  std::error_code rename(const std::string& from, const std::string& to) override;
  std::error_code remove(const std::string& path) override;

 protected:
  std::string path_of(int fd);

 private:
  power_loss_disk& disk_;
  std::mutex mu_;
  std::map<int, std::string> paths_;  // guarded by mu_
};

}  // namespace adclick::testutil
