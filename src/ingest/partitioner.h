#pragma once
// Chooses a click's log partition: hash(adId, salt) mod P, with salt 0 for an
// ordinary ad and salt = hash(impressionId) mod fanout for a hot one, so a hot
// ad's clicks spread over `fanout` partitions (and shards) while duplicates of
// one click, which share the impressionId, still meet in one partition.
//
// An ad is hot while its click rate over the last full second is at least
// `hot_ad_rate` (estimated with a count-min sketch, so memory does not grow
// with the number of ads), or when it is listed in ingest.hot_ads.

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/mutex.h"

namespace adclick::ingest {

struct hot_ad {
  std::uint64_t ad_id;
  std::uint64_t clicks_per_second;  // last estimate (0 for configured ones not seen yet)
  bool configured;
};

// Thread safety: partition_for() from any thread; hot_ads() from any thread.
class partitioner {
 public:
  partitioner(std::uint32_t partitions, std::uint64_t hot_ad_rate, std::uint32_t fanout,
              const std::vector<std::uint64_t>& always_hot);

  // Counts the click towards the ad's rate and returns its partition.
  // now_ms: the click's event time.
  std::uint32_t partition_for(std::uint64_t ad_id, std::string_view impression_id,
                              std::int64_t now_ms);

  // The partition for a given salt (tests, tools).
  std::uint32_t partition_of(std::uint64_t ad_id, std::uint32_t salt) const;

  bool is_hot(std::uint64_t ad_id, std::int64_t now_ms);
  std::vector<hot_ad> hot_ads(std::int64_t now_ms);
  std::uint32_t partitions() const { return partitions_; }

 private:
  static constexpr std::size_t kDepth = 4;
  static constexpr std::size_t kWidth = 4096;
  using sketch = std::array<std::array<std::atomic<std::uint32_t>, kWidth>, kDepth>;

  std::uint64_t estimate(const sketch& s, std::uint64_t ad_id) const;
  void rotate(std::int64_t second);

  const std::uint32_t partitions_;
  const std::uint64_t hot_ad_rate_;
  const std::uint32_t fanout_;
  const std::unordered_set<std::uint64_t> always_hot_;

  // Two sketches: the current second's counts and the last full second's.
  // current_ indexes them; rotation (once a second) happens under rotate_mu_.
  std::unique_ptr<sketch> sketches_[2];
  std::atomic<int> current_{0};
  std::atomic<std::int64_t> second_{0};
  base::mutex rotate_mu_;

  // Ads seen hot recently (for hot_ads()).
  base::mutex hot_mu_;
  std::unordered_map<std::uint64_t, std::pair<std::int64_t, std::uint64_t>> recent_hot_ GUARDED_BY(hot_mu_);
};

}  // namespace adclick::ingest
