#pragma once
// Atomic first-writer-wins on (adId, impressionId) across all I/O threads.
//
// A click's key is "seen" when it is in the pending set (an append in flight,
// or appended and not yet committed to RocksDB by its aggregation shard) or
// among the committed keys (RocksDB's `dedup` family, written with the
// shard's offsets, so it never outruns the log). reserve() looks in both and
// inserts into the pending set under the key's stripe lock, so two
// concurrent clicks with one key see exactly one `reserved`. The committed
// keys are read outside that lock (a RocksDB read may wait on the disk, and
// nothing that the log's flusher or a shard does may wait behind it): a
// commit that moved keys out of the stripe meanwhile makes reserve() read
// again.
//
// Lifecycle of a pending entry:
//   reserve()            -> pending (other requests now see a duplicate)
//   appended(p, offset)  -> logged: it waits for its shard's commit
//   withdraw()           -> gone (the append failed: the key was never seen)
//   committed(p, end)    -> gone for every logged entry of p below `end`
//                           (now in RocksDB)
// After a restart the pending set is empty: only RocksDB, rebuilt from the log
// by the shards' replay before clicks are served, says what was seen.
//
// A duplicate signed with a later expiry than the click that was counted (the
// ad server re-signed the impression) extends the key's life to that expiry,
// so the re-signed link never counts the impression twice: at once for a
// committed key, at its commit for a pending one.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adclick/result.h"
#include "base/mutex.h"

namespace adclick::state {
class store;
}

namespace adclick::ingest {

enum class reserve_result { reserved, duplicate };

// The committed keys as the index sees them. Any thread.
class committed_keys {
 public:
  virtual ~committed_keys() = default;
  // The expiry (Unix s) of a committed key, if present.
  [[nodiscard]] virtual result<std::optional<std::int64_t>> expiry(std::uint64_t ad_id,
                                                                  std::string_view impression_id) = 0;
  // Makes a committed key live until expires_at_s (a synced write).
  [[nodiscard]] virtual std::error_code extend(std::uint64_t ad_id, std::string_view impression_id,
                                               std::int64_t expires_at_s) = 0;
};

// committed_keys over the RocksDB state.
class store_committed_keys final : public committed_keys {
 public:
  explicit store_committed_keys(state::store& store) : store_(store) {}
  result<std::optional<std::int64_t>> expiry(std::uint64_t ad_id, std::string_view impression_id) override;
  std::error_code extend(std::uint64_t ad_id, std::string_view impression_id,
                         std::int64_t expires_at_s) override;

 private:
  state::store& store_;
};

class dedup_index {
 public:
  // store may be null (pending set only, for tests of the set itself).
  dedup_index(state::store* store, std::uint32_t partitions);
  // keys may be null, likewise; it must outlive the index.
  dedup_index(committed_keys* keys, std::uint32_t partitions);
  ~dedup_index();

  // Any thread. `expires_at_s`: the click's signed expiry (0: unknown). An
  // error when the committed keys cannot be read.
  [[nodiscard]] result<reserve_result> reserve(std::uint64_t ad_id, std::string_view impression_id,
                                               std::int64_t expires_at_s = 0);
  // The append of a reserved key succeeded at (partition, offset). Any
  // thread; takes no lock that reserve() holds across anything slow (it runs
  // on the log's flusher).
  void appended(std::uint64_t ad_id, std::string_view impression_id, std::uint32_t partition,
                std::uint64_t offset);
  // The append of a reserved key failed: forget the key. Any thread.
  void withdraw(std::uint64_t ad_id, std::string_view impression_id);
  // The shard owning `partition` committed every record below `end_offset`
  // (dedup keys included) to RocksDB. Any thread (the shard's).
  void committed(std::uint32_t partition, std::uint64_t end_offset);

  std::size_t pending() const;
  // Keys whose life a re-signed duplicate extended, and extensions that
  // could not be written (the key then keeps its first expiry).
  std::uint64_t extensions() const;
  std::uint64_t extension_failures() const;

 private:
  static constexpr std::size_t kStripes = 256;
  struct entry {
    std::int64_t reserved_exp = 0;  // the counted click's expiry (what its shard writes)
    std::int64_t max_exp = 0;       // the latest expiry a duplicate of it carried
  };
  struct stripe {
    base::mutex mu;
    std::unordered_map<std::string, entry> keys GUARDED_BY(mu);
    std::uint64_t commits GUARDED_BY(mu) = 0;  // bumped whenever committed() removes keys
  };
  struct logged_key {
    std::uint64_t offset;
    std::string key;
  };
  struct partition_queue {
    base::mutex mu;
    std::deque<logged_key> keys GUARDED_BY(mu);  // appended order (offsets nearly sorted)
  };

  stripe& stripe_for(const std::string& key);
  // A committed key seen again with expires_at_s: extends it if that is later.
  void extend_committed(stripe& s, std::uint64_t ad_id, std::string_view impression_id,
                        std::int64_t stored, std::int64_t expires_at_s);

  std::unique_ptr<committed_keys> owned_keys_;  // when built over a store
  committed_keys* const keys_;
  std::unique_ptr<stripe[]> stripes_;
  std::vector<std::unique_ptr<partition_queue>> queues_;
  std::atomic<std::uint64_t> extensions_{0};
  std::atomic<std::uint64_t> extension_failures_{0};
};

// The key bytes of (adId, impressionId) as the pending set and RocksDB use them.
std::string dedup_key_bytes(std::uint64_t ad_id, std::string_view impression_id);

}  // namespace adclick::ingest
