#pragma once
// The ad registry over the RocksDB `ads` family, with a bounded cache in
// front (ad_cache.h): the click path reads it, the admin API and the bulk
// loader write it. Memory stays within the cache's budget however many ads
// are registered.
//
// An ad that is not cached is read from the ads snapshot (ads_snapshot.h,
// written by `adclick ads import`) with one pread, unless it changed since
// the snapshot was written: then, or without a usable snapshot, from
// RocksDB. The changed ids are kept in memory (and in RocksDB, with each
// change); past a bound on them the snapshot is set aside until the next
// import. The snapshot's directory and that bound are charged to the
// cache's budget.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "adclick/result.h"
#include "base/mutex.h"
#include "ingest/ad_cache.h"
#include "ingest/ad_validation.h"
#include "ingest/ads_csv.h"
#include "ingest/registry_errc.h"
#include "state/state_format.h"

namespace adclick::state {
class store;
class ads_snapshot;
}

namespace adclick::ingest {

// One row of a bulk load.
struct ad_row {
  std::uint64_t ad_id = 0;
  std::string advertiser_id;
  std::string url;
};

inline constexpr std::uint64_t kDefaultAdCacheBytes = 256ull << 20;

// Thread safety: find() from any thread at any time; writes serialise on an
// internal mutex and reach RocksDB (synced) before the cache.
class ad_registry {
 public:
  // `snapshot_path`: where the ads snapshot is (none when empty).
  explicit ad_registry(state::store& store, std::uint64_t cache_bytes = kDefaultAdCacheBytes,
                       std::string snapshot_path = {});
  ~ad_registry();

  // Reads how many ads there are (counting them once in a data dir from
  // before the count was kept), and opens the ads snapshot if it matches the
  // store (a damaged or stale one is logged and left unused). Call once
  // before serving.
  [[nodiscard]] std::error_code load();

  // Writes the ads snapshot of every ad now in the store, and makes it the
  // one that answers (a new epoch; the changed marks are dropped). Only while
  // nothing else writes ads: `adclick ads import` holds the data dir.
  [[nodiscard]] std::error_code write_snapshot(std::string& why);

  // The ad, or null if unknown (or if RocksDB cannot be read: logged).
  // Paused ads are returned (with paused = true).
  std::shared_ptr<const state::ad_record> find(std::uint64_t ad_id) const;

  // Ads of advertiser_id (every ad when empty) with id > after, in id
  // order, up to limit. Reads RocksDB: not from an I/O thread.
  [[nodiscard]] result<std::vector<state::ad_record>> list(std::string_view advertiser_id, std::uint64_t after,
                                                           std::size_t limit) const;

  // Creates or replaces an ad (active). `created` says which.
  [[nodiscard]] result<state::ad_record> put(std::uint64_t ad_id, std::string_view advertiser_id,
                                             std::string_view url, bool& created,
                                             std::string& why);
  // Pauses an ad: its clicks get 404 from now on, its history stays.
  [[nodiscard]] result<state::ad_record> pause(std::uint64_t ad_id);
  // Creates or replaces many valid ads (validate_ad) in one synced write;
  // a later row for the same id wins. Bulk loads: the cache is not warmed.
  [[nodiscard]] std::error_code put_batch(const std::vector<ad_row>& rows);

  // Ads registered (paused ones included).
  std::size_t size() const { return count_.load(std::memory_order_relaxed); }
  const ad_cache& cache() const { return cache_; }

  // The snapshot in use: its ads, and memory charged for it (0 when none).
  std::uint64_t snapshot_ads() const;
  std::uint64_t snapshot_bytes() const { return snapshot_bytes_; }
  std::uint64_t snapshot_reads() const { return snapshot_reads_.load(std::memory_order_relaxed); }
  // Snapshot pages that failed their checksum or could not be read (each
  // such lookup was answered from RocksDB instead).
  std::uint64_t snapshot_errors() const { return snapshot_errors_.load(std::memory_order_relaxed); }

 private:
  std::error_code load_count();
  // RocksDB's record, bypassing the cache; null if none.
  result<std::shared_ptr<const state::ad_record>> read(std::uint64_t ad_id) const;
  // The record for a cache miss: the snapshot's when it may answer, else read().
  result<std::shared_ptr<const state::ad_record>> lookup(std::uint64_t ad_id) const;
  // After a write of these ads reached RocksDB: the snapshot no longer answers for them.
  template <class Ids>
  void mark_changed(const Ids& ids);

  state::store& store_;
  mutable ad_cache cache_;
  std::atomic<std::uint64_t> count_{0};
  base::mutex write_mu_;  // one writer at a time, RocksDB then cache

  const std::string snapshot_path_;
  std::unique_ptr<state::ads_snapshot> snapshot_;  // set by load(), before serving
  std::uint64_t snapshot_bytes_ = 0;
  std::size_t max_changed_ = 0;
  mutable base::shared_mutex changed_mu_;
  bool snapshot_on_ GUARDED_BY(changed_mu_) = false;
  std::unordered_set<std::uint64_t> changed_ GUARDED_BY(changed_mu_);
  mutable std::atomic<std::uint64_t> snapshot_reads_{0};
  mutable std::atomic<std::uint64_t> snapshot_errors_{0};
};


}  // namespace adclick::ingest

