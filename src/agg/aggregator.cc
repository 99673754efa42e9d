#include "agg/aggregator.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace adclick::agg {

aggregator::aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
                       const shard_options& options, const commit_listener& on_commit) {
  shards = std::max<std::uint32_t>(1, std::min(shards, log.partitions()));
  for (std::uint32_t s = 0; s < shards; ++s) {
    std::vector<log::partition_id> mine;
    for (log::partition_id p = s; p < log.partitions(); p += shards) mine.push_back(p);
    shards_.push_back(std::make_unique<shard>(s, std::move(mine), log, store, options, on_commit));
  }
}

aggregator::~aggregator() { stop(); }

result<recovery_summary> aggregator::recover() {
  const auto t0 = std::chrono::steady_clock::now();
  recovery_summary sum;
  // Shards replay their own partitions: in parallel.
  std::vector<result<std::uint64_t>> results(shards_.size(), result<std::uint64_t>(std::uint64_t{0}));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = shards_[i]->recover(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    if (!r) return r.error();
    sum.records_replayed += *r;
  }
  sum.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  return sum;
}

void aggregator::start() {
  for (auto& s : shards_) s->start();
}

void aggregator::stop() {
  for (auto& s : shards_) s->stop();
}

std::vector<shard_status> aggregator::status() const {
  std::vector<shard_status> out;
  for (const auto& s : shards_) out.push_back(s->status());
  return out;
}

std::int64_t aggregator::final_through_ms() const {
  std::int64_t m = INT64_MAX;
  for (const auto& s : shards_) m = std::min(m, s->final_through_ms());
  return m;
}

}  // namespace adclick::agg
