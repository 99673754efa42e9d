#include "ingest/ad_cache.h"

#include "base/mutex.h"
#include <algorithm>
#include <bit>

namespace adclick::ingest {

namespace {
// Admission slots per shard: a power of two near one per 256 bytes of the
// shard's budget, at least 64.
std::size_t admission_slots(std::uint64_t per_shard_bytes) {
  return std::bit_floor(std::max<std::uint64_t>(64, per_shard_bytes / 256));
}
}  // namespace

ad_cache::ad_cache(std::uint64_t capacity_bytes, unsigned shards) {
  shards_.reserve(std::max(1U, shards));
  const std::size_t slots = admission_slots(capacity_bytes / std::max(1U, shards));
  for (unsigned i = 0; i < std::max(1U, shards); ++i) {
    shards_.push_back(std::make_unique<shard>());
    shards_.back()->missed_once.assign(slots, 0);
  }
  set_capacity(capacity_bytes);
}

bool ad_cache::admit_locked(shard& s, std::uint64_t ad_id) {
  const std::size_t slot = ((ad_id * 0xC2B2AE3D27D4EB4FULL) >> 24) & (s.missed_once.size() - 1);
  if (s.missed_once[slot] == ad_id) {
    s.missed_once[slot] = 0;
    return true;
  }
  s.missed_once[slot] = ad_id;
  return false;
}

ad_cache::shard& ad_cache::shard_for(std::uint64_t ad_id) {
  // Ids are often dense: mix them so neighbours spread over the shards.
  std::uint64_t h = ad_id * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 32;
  return *shards_[h % shards_.size()];
}

void ad_cache::set_capacity(std::uint64_t capacity_bytes) {
  capacity_.store(capacity_bytes, std::memory_order_relaxed);
  // The admission table comes out of the budget.
  const std::uint64_t table = shards_.front()->missed_once.size() * sizeof(std::uint64_t);
  const std::uint64_t whole = capacity_bytes / shards_.size();
  const std::uint64_t per_shard = whole > table ? whole - table : 0;
  per_shard_.store(per_shard, std::memory_order_relaxed);
  for (auto& s : shards_) {
    base::mutex_lock lock(s->mu);
    evict_locked(*s, per_shard);
  }
}

void ad_cache::evict_locked(shard& s, std::uint64_t limit) {
  while (s.bytes > limit && !s.lru.empty()) {
    const node& victim = s.lru.back();
    s.bytes -= victim.charge;
    s.index.erase(victim.ad_id);
    s.lru.pop_back();
  }
}

std::uint64_t ad_cache::charge(const entry_ptr& ad) {
  // list node (3 words + node links), hash node (key, iterator, next,
  // hash), shared_ptr control block with the record in it.
  constexpr std::uint64_t kOverhead = 48 + 32 + 16 + sizeof(state::ad_record);
  if (!ad) return kOverhead;
  return kOverhead + ad->advertiser_id.capacity() + ad->url.capacity();
}

std::optional<ad_cache::entry_ptr> ad_cache::get(std::uint64_t ad_id, std::uint64_t* miss_stamp) {
  shard& s = shard_for(ad_id);
  base::mutex_lock lock(s.mu);
  const auto it = s.index.find(ad_id);
  if (it == s.index.end()) {
    if (miss_stamp != nullptr) *miss_stamp = s.writes;
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second->ad;
}

void ad_cache::fill(std::uint64_t ad_id, entry_ptr ad, std::uint64_t stamp) {
  shard& s = shard_for(ad_id);
  base::mutex_lock lock(s.mu);
  if (s.writes != stamp || s.index.count(ad_id) != 0) return;
  const std::uint64_t c = charge(ad);
  if (s.bytes + c > per_shard_.load(std::memory_order_relaxed) && !admit_locked(s, ad_id)) return;
  insert_locked(s, ad_id, std::move(ad), c);
}

void ad_cache::put(std::uint64_t ad_id, entry_ptr ad) {
  shard& s = shard_for(ad_id);
  base::mutex_lock lock(s.mu);
  ++s.writes;
  erase_locked(s, ad_id);
  const std::uint64_t c = charge(ad);
  insert_locked(s, ad_id, std::move(ad), c);
}

void ad_cache::erase(std::uint64_t ad_id) {
  shard& s = shard_for(ad_id);
  base::mutex_lock lock(s.mu);
  ++s.writes;
  erase_locked(s, ad_id);
}

void ad_cache::insert_locked(shard& s, std::uint64_t ad_id, entry_ptr ad, std::uint64_t c) {
  const std::uint64_t per_shard = per_shard_.load(std::memory_order_relaxed);
  if (c > per_shard) return;  // larger than a whole shard: not cached
  evict_locked(s, per_shard - c);
  s.lru.push_front(node{ad_id, std::move(ad), c});
  s.index[ad_id] = s.lru.begin();
  s.bytes += c;
}

void ad_cache::erase_locked(shard& s, std::uint64_t ad_id) {
  const auto it = s.index.find(ad_id);
  if (it == s.index.end()) return;
  s.bytes -= it->second->charge;
  s.lru.erase(it->second);
  s.index.erase(it);
}

std::uint64_t ad_cache::bytes() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) {
    base::mutex_lock lock(s->mu);
    n += s->bytes + s->missed_once.size() * sizeof(std::uint64_t);
  }
  return n;
}

std::uint64_t ad_cache::entries() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) {
    base::mutex_lock lock(s->mu);
    n += s->index.size();
  }
  return n;
}

}  // namespace adclick::ingest
