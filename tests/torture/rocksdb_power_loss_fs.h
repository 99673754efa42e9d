#pragma once
// RocksDB's file layer over a power_loss_disk: the real POSIX files, with
// the model told of every write, sync, rename and delete, so that a cut of
// the log and of RocksDB is one instant. A sync the test fails returns an
// IOError after the model dropped the file's dirty pages (as Linux marks
// them clean), without the real fdatasync.

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <memory>
#include <string>

#include "testutil/power_loss_disk.h"

namespace adclick::torture {

class power_loss_writable final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  power_loss_writable(std::unique_ptr<rocksdb::FSWritableFile> f, std::string path,
                      testutil::power_loss_disk& disk, std::uint64_t size)
      : FSWritableFileOwnerWrapper(std::move(f)), path_(std::move(path)), disk_(disk), size_(size) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    auto s = target()->Append(data, o, d);
    note(size_, data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* d) override {
    auto s = target()->Append(data, o, v, d);
    note(size_, data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                     const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    auto s = target()->PositionedAppend(data, offset, o, d);
    note(offset, data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                     const rocksdb::IOOptions& o, const rocksdb::DataVerificationInfo& v,
                                     rocksdb::IODebugContext* d) override {
    auto s = target()->PositionedAppend(data, offset, o, v, d);
    note(offset, data.size());
    return s;
  }
  rocksdb::IOStatus Truncate(std::uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
    auto s = target()->Truncate(size, o, d);
    size_ = size;
    disk_.resized(path_);
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    // What RocksDB buffered goes to the file first, as the real Sync does.
    if (auto s = target()->Flush(o, d); !s.ok()) return s;
    if (!disk_.sync(path_)) return rocksdb::IOStatus::IOError("injected fdatasync failure: " + path_);
    return target()->Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (auto s = target()->Flush(o, d); !s.ok()) return s;
    if (!disk_.sync(path_)) return rocksdb::IOStatus::IOError("injected fsync failure: " + path_);
    return target()->Fsync(o, d);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    return target()->Close(o, d);
  }

 private:
  void note(std::uint64_t pos, std::uint64_t n) {
    disk_.written(path_, pos, n);
    size_ = std::max(size_, pos + n);
  }
  const std::string path_;
  testutil::power_loss_disk& disk_;
  std::uint64_t size_;
};

class power_loss_rocksdb_fs final : public rocksdb::FileSystemWrapper {
 public:
  explicit power_loss_rocksdb_fs(testutil::power_loss_disk& disk)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), disk_(disk) {}
  const char* Name() const override { return "adclick.power_loss_fs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->NewWritableFile(f, o, &inner, d);
    if (!s.ok()) return s;
    disk_.created(f);
    *r = std::make_unique<power_loss_writable>(std::move(inner), f, disk_, 0);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    std::uint64_t size = 0;
    (void)target()->GetFileSize(f, rocksdb::IOOptions(), &size, d);
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->ReopenWritableFile(f, o, &inner, d);
    if (!s.ok()) return s;
    *r = std::make_unique<power_loss_writable>(std::move(inner), f, disk_, size);
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    if (auto s = RenameFile(old, f, rocksdb::IOOptions(), d); !s.ok()) return s;
    return NewWritableFile(f, o, r, d);
  }
  rocksdb::IOStatus NewRandomRWFile(const std::string&, const rocksdb::FileOptions&,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>*,
                                    rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("random writes are not modelled");
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    auto s = target()->RenameFile(from, to, o, d);
    if (s.ok()) disk_.renamed(from, to);
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override {
    auto s = target()->DeleteFile(f, o, d);
    if (s.ok()) disk_.removed(f);
    return s;
  }
  rocksdb::IOStatus LinkFile(const std::string&, const std::string&, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("links are not modelled");
  }

 private:
  testutil::power_loss_disk& disk_;
};

}  // namespace adclick::torture
