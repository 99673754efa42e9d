#pragma once
// Atomic first-writer-wins on (adId, impressionId) across all I/O threads.
//
// A click's key is "seen" when it is in the pending set (an append in flight,
// or appended and not yet committed to RocksDB by its aggregation shard) or
// in the RocksDB `dedup` family (committed with the shard's offsets, so it
// never outruns the log). reserve() checks both under the key's stripe lock
// and inserts into the pending set, so two concurrent clicks with one key see
// exactly one `reserved`.
//
// Lifecycle of a pending entry:
//   reserve()            -> pending (other requests now see a duplicate)
//   appended(p, offset)  -> logged: it waits for its shard's commit
//   withdraw()           -> gone (the append failed: the key was never seen)
//   committed(p, end)    -> gone for every logged entry of p below `end`
//                           (now in RocksDB)
// After a restart the pending set is empty: only RocksDB, rebuilt from the log
// by the shards' replay before clicks are served, says what was seen.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adclick/result.h"

namespace adclick::state {
class store;
}

namespace adclick::ingest {

enum class reserve_result { reserved, duplicate };

class dedup_index {
 public:
  // store may be null (pending set only, for tests of the set itself).
  dedup_index(state::store* store, std::uint32_t partitions);
  ~dedup_index();

  // Any thread. An error when RocksDB cannot be read.
  [[nodiscard]] result<reserve_result> reserve(std::uint64_t ad_id, std::string_view impression_id);
  // The append of a reserved key succeeded at (partition, offset). Any thread.
  void appended(std::uint64_t ad_id, std::string_view impression_id, std::uint32_t partition,
                std::uint64_t offset);
  // The append of a reserved key failed: forget the key. Any thread.
  void withdraw(std::uint64_t ad_id, std::string_view impression_id);
  // The shard owning `partition` committed every record below `end_offset`
  // (dedup keys included) to RocksDB. Any thread.
  void committed(std::uint32_t partition, std::uint64_t end_offset);

  std::size_t pending() const;

 private:
  static constexpr std::size_t kStripes = 256;
  struct entry {
    bool logged = false;
  };
  struct stripe {
    std::mutex mu;
    std::unordered_map<std::string, entry> keys;  // guarded by mu
  };
  struct logged_key {
    std::uint64_t offset;
    std::string key;
  };
  struct partition_queue {
    std::mutex mu;
    std::deque<logged_key> keys;  // guarded by mu; appended order (offsets nearly sorted)
  };

  stripe& stripe_for(const std::string& key);

  state::store* const store_;
  std::unique_ptr<stripe[]> stripes_;
  std::vector<std::unique_ptr<partition_queue>> queues_;
};

// The key bytes of (adId, impressionId) as the pending set and RocksDB use them.
std::string dedup_key_bytes(std::uint64_t ad_id, std::string_view impression_id);

}  // namespace adclick::ingest
