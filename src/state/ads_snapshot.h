#pragma once
// A read-only copy of the ads, laid out for point reads, so that a click for
// an ad the ad cache does not hold costs one pread instead of a RocksDB
// lookup (index search, block read, decompression). RocksDB's `ads` family
// stays the source of truth; ad_registry decides when the copy may answer
// (its epoch matches the store's, and the ad has not changed since).
//
// File layout (integers little-endian):
//   pages      records in ad id order: u64 adId | u32 len | ad value (the
//              `ads` family's encoding), packed into pages of at most 4 KiB;
//              each page ends with the XXH3-64 of its records
//   directory  u64 pages | pages x (u64 first adId, u64 offset) | u64 end
//   footer     "ADCKSNP1" | u64 epoch | u64 ads | u64 directory offset |
//              u64 directory length | u64 XXH3-64 of the directory |
//              u64 XXH3-64 of the footer's first 48 bytes
// open() checks the footer and the directory and keeps the directory in
// memory (16 bytes per page, about 3.7 MB for 10 million ads); find() reads
// one page and checks its checksum before it trusts a byte of it.
//
// Durability: write() returns after the file is fsynced under a temporary
// name, renamed into place and its directory fsynced.
//
// Thread safety: find() from any thread; the object is immutable after open().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adclick/result.h"
#include "state/state_format.h"

namespace adclick::state {

inline constexpr std::size_t kSnapshotPageBytes = 4096;

// Where a data dir keeps its ads snapshot.
inline std::string ads_snapshot_path(const std::string& data_dir) { return data_dir + "/ads.snap"; }

class ads_snapshot {
 public:
  // Yields the ads in increasing id order, each through `emit`.
  using ad_source = std::function<std::error_code(const std::function<bool(const ad_record&)>& emit)>;

  // Writes the file at `path` from `source`. On failure `why` says what.
  [[nodiscard]] static std::error_code write(const std::string& path, std::uint64_t epoch,
                                             const ad_source& source, std::string& why);
  // Opens the file; state_errc::corrupt (with `why`) when its footer or
  // directory is damaged, a std::errc when it cannot be read.
  [[nodiscard]] static result<std::unique_ptr<ads_snapshot>> open(const std::string& path,
                                                                 std::string& why);
  ~ads_snapshot();
  ads_snapshot(const ads_snapshot&) = delete;
  ads_snapshot& operator=(const ads_snapshot&) = delete;

  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t ads() const { return ads_; }
  // Memory the directory holds.
  std::uint64_t memory_bytes() const;

  // The ad, or nullopt when the copy has no such ad. state_errc::corrupt
  // when its page fails its checksum or does not decode; an I/O error when
  // the page cannot be read.
  [[nodiscard]] result<std::optional<ad_record>> find(std::uint64_t ad_id) const;

 private:
  ads_snapshot() = default;
  int fd_ = -1;
  std::uint64_t epoch_ = 0;
  std::uint64_t ads_ = 0;
  std::vector<std::uint64_t> first_ids_;  // per page
  std::vector<std::uint64_t> offsets_;    // per page, plus the end
};

}  // namespace adclick::state
