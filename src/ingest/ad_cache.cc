#include "ingest/ad_cache.h"

#include <algorithm>

namespace adclick::ingest {

ad_cache::ad_cache(std::uint64_t capacity_bytes, unsigned shards)
    : capacity_(capacity_bytes),
      per_shard_(capacity_bytes / std::max(1U, shards)) {
  shards_.reserve(std::max(1U, shards));
  for (unsigned i = 0; i < std::max(1U, shards); ++i) shards_.push_back(std::make_unique<shard>());
}

ad_cache::shard& ad_cache::shard_for(std::uint64_t ad_id) {
  // Ids are often dense: mix them so neighbours spread over the shards.
  std::uint64_t h = ad_id * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 32;
  return *shards_[h % shards_.size()];
}

void ad_cache::set_capacity(std::uint64_t capacity_bytes) {
  capacity_.store(capacity_bytes, std::memory_order_relaxed);
  const std::uint64_t per_shard = capacity_bytes / shards_.size();
  per_shard_.store(per_shard, std::memory_order_relaxed);
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    while (s->bytes > per_shard && !s->lru.empty()) {
      const node& victim = s->lru.back();
      s->bytes -= victim.charge;
      s->index.erase(victim.ad_id);
      s->lru.pop_back();
    }
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
  std::lock_guard lock(s.mu);
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
  std::lock_guard lock(s.mu);
  if (s.writes != stamp || s.index.count(ad_id) != 0) return;
  insert_locked(s, ad_id, std::move(ad));
}

void ad_cache::put(std::uint64_t ad_id, entry_ptr ad) {
  shard& s = shard_for(ad_id);
  std::lock_guard lock(s.mu);
  ++s.writes;
  erase_locked(s, ad_id);
  insert_locked(s, ad_id, std::move(ad));
}

void ad_cache::erase(std::uint64_t ad_id) {
  shard& s = shard_for(ad_id);
  std::lock_guard lock(s.mu);
  ++s.writes;
  erase_locked(s, ad_id);
}

void ad_cache::insert_locked(shard& s, std::uint64_t ad_id, entry_ptr ad) {
  const std::uint64_t c = charge(ad);
  const std::uint64_t per_shard = per_shard_.load(std::memory_order_relaxed);
  if (c > per_shard) return;  // larger than a whole shard: not cached
  while (s.bytes + c > per_shard && !s.lru.empty()) {
    const node& victim = s.lru.back();
    s.bytes -= victim.charge;
    s.index.erase(victim.ad_id);
    s.lru.pop_back();
  }
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
    std::lock_guard lock(s->mu);
    n += s->bytes;
  }
  return n;
}

std::uint64_t ad_cache::entries() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->index.size();
  }
  return n;
}

}  // namespace adclick::ingest
