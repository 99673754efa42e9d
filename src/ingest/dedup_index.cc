#include "ingest/dedup_index.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>

#include "base/mutex.h"
#include "state/state_format.h"
#include "state/store.h"

namespace adclick::ingest {

std::string dedup_key_bytes(std::uint64_t ad_id, std::string_view impression_id) {
  return state::dedup_key(ad_id, impression_id);
}

result<std::optional<std::int64_t>> store_committed_keys::expiry(std::uint64_t ad_id,
                                                                 std::string_view impression_id) {
  return store_.get_dedup(ad_id, impression_id);
}

std::error_code store_committed_keys::extend(std::uint64_t ad_id, std::string_view impression_id,
                                             std::int64_t expires_at_s) {
  state::write_batch b;
  b.put_dedup(ad_id, impression_id, expires_at_s);
  return store_.write(b, true);
}

dedup_index::dedup_index(state::store* store, std::uint32_t partitions)
    : owned_keys_(store != nullptr ? std::make_unique<store_committed_keys>(*store) : nullptr),
      keys_(owned_keys_.get()),
      stripes_(std::make_unique<stripe[]>(kStripes)) {
  for (std::uint32_t p = 0; p < partitions; ++p) {
    queues_.push_back(std::make_unique<partition_queue>());
  }
}

dedup_index::dedup_index(committed_keys* keys, std::uint32_t partitions)
    : keys_(keys), stripes_(std::make_unique<stripe[]>(kStripes)) {
  for (std::uint32_t p = 0; p < partitions; ++p) {
    queues_.push_back(std::make_unique<partition_queue>());
  }
}

dedup_index::~dedup_index() = default;

dedup_index::stripe& dedup_index::stripe_for(const std::string& key) {
  return stripes_[XXH3_64bits(key.data(), key.size()) % kStripes];
}

result<reserve_result> dedup_index::reserve(std::uint64_t ad_id, std::string_view impression_id,
                                            std::int64_t expires_at_s) {
  std::string key = dedup_key_bytes(ad_id, impression_id);
  auto& s = stripe_for(key);
  std::uint64_t seen_commits = 0;
  {
    base::mutex_lock lk(s.mu);
    if (auto it = s.keys.find(key); it != s.keys.end()) {
      it->second.max_exp = std::max(it->second.max_exp, expires_at_s);
      return reserve_result::duplicate;
    }
    if (keys_ == nullptr) {
      s.keys.emplace(std::move(key), entry{expires_at_s, expires_at_s});
      return reserve_result::reserved;
    }
    seen_commits = s.commits;
  }
  for (;;) {
    // Outside the lock: this may wait on the disk.
    auto stored = keys_->expiry(ad_id, impression_id);
    if (!stored) return stored.error();
    if (stored->has_value()) {
      extend_committed(s, ad_id, impression_id, **stored, expires_at_s);
      return reserve_result::duplicate;
    }
    base::mutex_lock lk(s.mu);
    if (auto it = s.keys.find(key); it != s.keys.end()) {
      it->second.max_exp = std::max(it->second.max_exp, expires_at_s);
      return reserve_result::duplicate;
    }
    // A commit moved keys of this stripe out of the pending set while we
    // read: ours may be one of them, committed after our read. Read again.
    if (s.commits != seen_commits) {
      seen_commits = s.commits;
      continue;
    }
    s.keys.emplace(std::move(key), entry{expires_at_s, expires_at_s});
    return reserve_result::reserved;
  }
}

void dedup_index::extend_committed(stripe& s, std::uint64_t ad_id, std::string_view impression_id,
                                   std::int64_t stored, std::int64_t expires_at_s) {
  if (expires_at_s <= stored) return;
  // Rare (a re-signed impression): under the stripe lock with a fresh read,
  // so two extensions of one key never leave the earlier expiry.
  base::mutex_lock lk(s.mu);
  auto again = keys_->expiry(ad_id, impression_id);
  if (!again || !again->has_value() || **again >= expires_at_s) return;
  if (auto ec = keys_->extend(ad_id, impression_id, expires_at_s)) {
    extension_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("ingest: extending the dedup key of ad {} to its re-signed expiry failed: {}", ad_id,
                  ec.message());
    return;
  }
  extensions_.fetch_add(1, std::memory_order_relaxed);
}

void dedup_index::appended(std::uint64_t ad_id, std::string_view impression_id,
                           std::uint32_t partition, std::uint64_t offset) {
  // Only the partition's queue: the entry itself stays as reserve() left it
  // (an append succeeds or is withdrawn, never both).
  if (partition >= queues_.size()) return;
  auto& q = *queues_[partition];
  base::mutex_lock lk(q.mu);
  q.keys.push_back({offset, dedup_key_bytes(ad_id, impression_id)});
}

void dedup_index::withdraw(std::uint64_t ad_id, std::string_view impression_id) {
  const std::string key = dedup_key_bytes(ad_id, impression_id);
  auto& s = stripe_for(key);
  base::mutex_lock lk(s.mu);
  s.keys.erase(key);
}

void dedup_index::committed(std::uint32_t partition, std::uint64_t end_offset) {
  if (partition >= queues_.size()) return;
  std::vector<std::string> done;
  {
    auto& q = *queues_[partition];
    base::mutex_lock lk(q.mu);
    // Appends complete in offset order per partition (one flusher), so the
    // queue is sorted; stop at the first entry not yet committed.
    while (!q.keys.empty() && q.keys.front().offset < end_offset) {
      done.push_back(std::move(q.keys.front().key));
      q.keys.pop_front();
    }
  }
  for (const auto& key : done) {
    auto& s = stripe_for(key);
    std::int64_t written = 0;  // the latest expiry the store holds for the key
    for (;;) {
      std::int64_t want = 0;
      {
        base::mutex_lock lk(s.mu);
        auto it = s.keys.find(key);
        if (it == s.keys.end()) break;
        written = std::max(written, it->second.reserved_exp);
        if (it->second.max_exp <= written || keys_ == nullptr) {
          s.keys.erase(it);
          ++s.commits;
          break;
        }
        want = it->second.max_exp;
      }
      // The shard has just written the key with the counted click's expiry;
      // a duplicate re-signed later wants it kept longer. Written before the
      // key leaves the pending set, so it is never seen with less.
      const std::uint64_t ad = state::get_be64(key.data());
      const std::string_view imp = std::string_view(key).substr(8);
      if (auto ec = keys_->extend(ad, imp, want)) {
        extension_failures_.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("ingest: extending the dedup key of ad {} to its re-signed expiry failed: {}", ad,
                      ec.message());
      } else {
        extensions_.fetch_add(1, std::memory_order_relaxed);
      }
      written = want;  // on failure too: the key keeps its first expiry, never retried forever
    }
  }
}

std::size_t dedup_index::pending() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kStripes; ++i) {
    base::mutex_lock lk(stripes_[i].mu);
    n += stripes_[i].keys.size();
  }
  return n;
}

std::uint64_t dedup_index::extensions() const { return extensions_.load(std::memory_order_relaxed); }
std::uint64_t dedup_index::extension_failures() const {
  return extension_failures_.load(std::memory_order_relaxed);
}

}  // namespace adclick::ingest
