#pragma once
// A bounded cache of ad records in front of RocksDB: LRU per shard, charged
// by the bytes each entry holds, so that the click path's memory stays
// within `capacity_bytes` however many ads are registered. It also keeps
// "no such ad" answers (a flood of clicks for made-up ads then costs no
// RocksDB lookups).
//
// Admission: while a shard is full, a reader's fill() is cached only for an
// id that missed once before, recently (a direct-mapped table of ids that
// missed once, about one slot per 256 bytes of budget, charged to it). Clicks
// spread over far more ads than fit then do not evict an entry (and allocate
// one) per click, and an ad clicked once does not push out one clicked often.
//
// Thread safety: every method from any thread.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "state/state_format.h"

namespace adclick::ingest {

class ad_cache {
 public:
  using entry_ptr = std::shared_ptr<const state::ad_record>;  // null: no such ad

  explicit ad_cache(std::uint64_t capacity_bytes, unsigned shards = 16);

  // The cached answer for `ad_id`: a record, a null pointer ("no such ad"),
  // or nullopt when nothing is cached; then `*miss_stamp` (if given) is the
  // stamp for fill(): take it this way before reading RocksDB.
  std::optional<entry_ptr> get(std::uint64_t ad_id, std::uint64_t* miss_stamp = nullptr);

  // Caches what a reader found in RocksDB, unless a writer changed the ad's
  // shard since `stamp` was handed out (the read may be older than the write).
  void fill(std::uint64_t ad_id, entry_ptr ad, std::uint64_t stamp);
  // A writer's new value (after its RocksDB write); always replaces.
  void put(std::uint64_t ad_id, entry_ptr ad);
  // Drops the entry (bulk loads, which do not warm the cache).
  void erase(std::uint64_t ad_id);

  std::uint64_t capacity_bytes() const { return capacity_.load(std::memory_order_relaxed); }
  // Lowers (or raises) the budget; entries past it are evicted.
  void set_capacity(std::uint64_t capacity_bytes);
  // The records' charges plus the admission table.
  std::uint64_t bytes() const;
  std::uint64_t entries() const;
  std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

  // What one entry is charged: the record's strings plus the list node, the
  // hash map node and the shared_ptr control block around it.
  static std::uint64_t charge(const entry_ptr& ad);

 private:
  struct node {
    std::uint64_t ad_id;
    entry_ptr ad;
    std::uint64_t charge;
  };
  struct shard {
    base::mutex mu;
    std::list<node> lru;  // front: most recently used
    std::unordered_map<std::uint64_t, std::list<node>::iterator> index;
    std::uint64_t bytes = 0;
    std::uint64_t writes = 0;  // bumped by put() and erase(): fill() stamps
    std::vector<std::uint64_t> missed_once;  // admission table, 0 = empty slot
  };
  // Whether a fill for `ad_id` may evict: it missed before (and is then
  // forgotten), else it is remembered and not admitted.
  static bool admit_locked(shard& s, std::uint64_t ad_id);
  shard& shard_for(std::uint64_t ad_id);
  // `c` is charge(ad).
  void insert_locked(shard& s, std::uint64_t ad_id, entry_ptr ad, std::uint64_t c);
  // Drops least recently used entries until the shard holds at most `limit` bytes.
  static void evict_locked(shard& s, std::uint64_t limit);
  void erase_locked(shard& s, std::uint64_t ad_id);

  std::atomic<std::uint64_t> capacity_{0};
  std::atomic<std::uint64_t> per_shard_{0};  // read under a shard's lock
  std::vector<std::unique_ptr<shard>> shards_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace adclick::ingest
