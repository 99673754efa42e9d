#include "ingest/dedup_index.h"

#include <xxhash.h>

#include <algorithm>

#include "state/state_format.h"
#include "state/store.h"

namespace adclick::ingest {

std::string dedup_key_bytes(std::uint64_t ad_id, std::string_view impression_id) {
  return state::dedup_key(ad_id, impression_id);
}

dedup_index::dedup_index(state::store* store, std::uint32_t partitions)
    : store_(store), stripes_(std::make_unique<stripe[]>(kStripes)) {
  for (std::uint32_t p = 0; p < partitions; ++p) {
    queues_.push_back(std::make_unique<partition_queue>());
  }
}

dedup_index::~dedup_index() = default;

dedup_index::stripe& dedup_index::stripe_for(const std::string& key) {
  return stripes_[XXH3_64bits(key.data(), key.size()) % kStripes];
}

result<reserve_result> dedup_index::reserve(std::uint64_t ad_id, std::string_view impression_id) {
  std::string key = dedup_key_bytes(ad_id, impression_id);
  auto& s = stripe_for(key);
  std::lock_guard lk(s.mu);
  if (s.keys.count(key) != 0) return reserve_result::duplicate;
  if (store_ != nullptr) {
    // Under the stripe lock, so a commit that removes the pending entry
    // cannot slip between the two looks: the entry leaves the pending set
    // only after RocksDB holds the key.
    auto committed = store_->get_dedup(ad_id, impression_id);
    if (!committed) return committed.error();
    if (committed->has_value()) return reserve_result::duplicate;
  }
  s.keys.emplace(std::move(key), entry{});
  return reserve_result::reserved;
}

void dedup_index::appended(std::uint64_t ad_id, std::string_view impression_id,
                           std::uint32_t partition, std::uint64_t offset) {
  std::string key = dedup_key_bytes(ad_id, impression_id);
  {
    auto& s = stripe_for(key);
    std::lock_guard lk(s.mu);
    auto it = s.keys.find(key);
    if (it == s.keys.end()) return;
    it->second.logged = true;
  }
  if (partition < queues_.size()) {
    auto& q = *queues_[partition];
    std::lock_guard lk(q.mu);
    q.keys.push_back({offset, std::move(key)});
  }
}

void dedup_index::withdraw(std::uint64_t ad_id, std::string_view impression_id) {
  const std::string key = dedup_key_bytes(ad_id, impression_id);
  auto& s = stripe_for(key);
  std::lock_guard lk(s.mu);
  s.keys.erase(key);
}

void dedup_index::committed(std::uint32_t partition, std::uint64_t end_offset) {
  if (partition >= queues_.size()) return;
  std::vector<std::string> done;
  {
    auto& q = *queues_[partition];
    std::lock_guard lk(q.mu);
    // Appends complete in offset order per partition (one flusher), so the
    // queue is sorted; stop at the first entry not yet committed.
    while (!q.keys.empty() && q.keys.front().offset < end_offset) {
      done.push_back(std::move(q.keys.front().key));
      q.keys.pop_front();
    }
  }
  for (const auto& key : done) {
    auto& s = stripe_for(key);
    std::lock_guard lk(s.mu);
    s.keys.erase(key);
  }
}

std::size_t dedup_index::pending() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kStripes; ++i) {
    std::lock_guard lk(stripes_[i].mu);
    n += stripes_[i].keys.size();
  }
  return n;
}

}  // namespace adclick::ingest
