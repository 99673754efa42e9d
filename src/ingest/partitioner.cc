#include "ingest/partitioner.h"

#include "base/mutex.h"
#include <xxhash.h>

#include <algorithm>

namespace adclick::ingest {
namespace {
std::uint64_t cell_hash(std::uint64_t ad_id, std::size_t row) {
  return XXH3_64bits_withSeed(&ad_id, sizeof ad_id, 0x9E3779B97F4A7C15ull * (row + 1));
}
}  // namespace

partitioner::partitioner(std::uint32_t partitions, std::uint64_t hot_ad_rate, std::uint32_t fanout,
                         const std::vector<std::uint64_t>& always_hot)
    : partitions_(partitions),
      hot_ad_rate_(hot_ad_rate),
      fanout_(std::max<std::uint32_t>(1, std::min(fanout, partitions))),
      always_hot_(always_hot.begin(), always_hot.end()) {
  for (auto& s : sketches_) {
    s = std::make_unique<sketch>();
    for (auto& row : *s) {
      for (auto& c : row) c.store(0, std::memory_order_relaxed);
    }
  }
}

std::uint32_t partitioner::partition_of(std::uint64_t ad_id, std::uint32_t salt) const {
  const std::uint64_t words[2] = {ad_id, salt};
  return static_cast<std::uint32_t>(XXH3_64bits(words, sizeof words) % partitions_);
}

std::uint64_t partitioner::estimate(const sketch& s, std::uint64_t ad_id) const {
  std::uint64_t m = UINT64_MAX;
  for (std::size_t r = 0; r < kDepth; ++r) {
    m = std::min<std::uint64_t>(m, s[r][cell_hash(ad_id, r) % kWidth].load(std::memory_order_relaxed));
  }
  return m;
}

void partitioner::rotate(std::int64_t second) {
  base::mutex_lock lk(rotate_mu_);
  const std::int64_t cur = second_.load();
  if (second <= cur) return;
  const int next = 1 - current_.load();
  // The "next" sketch becomes current: clear it. If more than one second
  // passed, the previous second was empty too: clear both.
  for (auto& row : *sketches_[next]) {
    for (auto& c : row) c.store(0, std::memory_order_relaxed);
  }
  if (second > cur + 1) {
    for (auto& row : *sketches_[1 - next]) {
      for (auto& c : row) c.store(0, std::memory_order_relaxed);
    }
  }
  current_.store(next);
  second_.store(second);
}

bool partitioner::is_hot(std::uint64_t ad_id, std::int64_t now_ms) {
  if (always_hot_.count(ad_id) != 0) return true;
  const std::int64_t second = now_ms / 1000;
  if (second > second_.load(std::memory_order_relaxed)) rotate(second);
  const sketch& last = *sketches_[1 - current_.load(std::memory_order_relaxed)];
  return estimate(last, ad_id) >= hot_ad_rate_;
}

std::uint32_t partitioner::partition_for(std::uint64_t ad_id, std::string_view impression_id,
                                         std::int64_t now_ms) {
  const std::int64_t second = now_ms / 1000;
  if (second > second_.load(std::memory_order_relaxed)) rotate(second);
  sketch& cur = *sketches_[current_.load(std::memory_order_relaxed)];
  std::uint64_t in_this_second = UINT64_MAX;
  for (std::size_t r = 0; r < kDepth; ++r) {
    const auto v = cur[r][cell_hash(ad_id, r) % kWidth].fetch_add(1, std::memory_order_relaxed) + 1;
    in_this_second = std::min<std::uint64_t>(in_this_second, v);
  }
  const sketch& last = *sketches_[1 - current_.load(std::memory_order_relaxed)];
  const std::uint64_t last_second = estimate(last, ad_id);
  const bool hot = always_hot_.count(ad_id) != 0 || last_second >= hot_ad_rate_;
  if (last_second >= hot_ad_rate_ && in_this_second == 1) {
    // Once per second per hot ad: remember it for hot_ads().
    base::mutex_lock lk(hot_mu_);
    recent_hot_[ad_id] = {now_ms, last_second};
  }
  if (!hot || fanout_ == 1) return partition_of(ad_id, 0);
  const auto salt = static_cast<std::uint32_t>(
      XXH3_64bits(impression_id.data(), impression_id.size()) % fanout_);
  return partition_of(ad_id, salt);
}

std::vector<hot_ad> partitioner::hot_ads(std::int64_t now_ms) {
  std::vector<hot_ad> out;
  {
    base::mutex_lock lk(hot_mu_);
    for (auto it = recent_hot_.begin(); it != recent_hot_.end();) {
      if (now_ms - it->second.first > 2000) {
        it = recent_hot_.erase(it);
      } else {
        if (always_hot_.count(it->first) == 0) {
          out.push_back({it->first, it->second.second, false});
        }
        ++it;
      }
    }
  }
  for (auto id : always_hot_) out.push_back({id, 0, true});
  std::sort(out.begin(), out.end(),
            [](const hot_ad& a, const hot_ad& b) { return a.clicks_per_second > b.clicks_per_second; });
  return out;
}

}  // namespace adclick::ingest
