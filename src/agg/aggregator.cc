#include "agg/aggregator.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace adclick::agg {

namespace {
std::vector<log::partition_id> every_partition(const log::click_log& log) {
  std::vector<log::partition_id> all(log.partitions());
  for (log::partition_id p = 0; p < log.partitions(); ++p) all[p] = p;
  return all;
}
}  // namespace

aggregator::aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
                       const shard_options& options, const commit_listener& on_commit)
    : aggregator(log, store, shards, every_partition(log), options, on_commit) {}

aggregator::aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
                       const std::vector<log::partition_id>& partitions, const shard_options& options,
                       const commit_listener& on_commit)
    : log_(log), store_(store), shard_count_(std::max<std::uint32_t>(1, shards)), options_(options),
      on_commit_(on_commit) {
  base::mutex_lock lk(mu_);
  build(partitions);
}

void aggregator::build(const std::vector<log::partition_id>& partitions) {
  shards_.clear();
  const auto n = static_cast<std::uint32_t>(partitions.size());
  const std::uint32_t shards = std::min(shard_count_, n);
  for (std::uint32_t s = 0; s < shards; ++s) {
    std::vector<log::partition_id> mine;
    for (std::uint32_t i = s; i < n; i += shards) mine.push_back(partitions[i]);
    shards_.push_back(std::make_unique<shard>(s, std::move(mine), log_, store_, options_, on_commit_));
  }
}

aggregator::~aggregator() { stop(); }

result<recovery_summary> aggregator::recover() {
  base::mutex_lock lk(mu_);
  return recover_locked();
}

result<recovery_summary> aggregator::recover_locked() {
  const auto t0 = std::chrono::steady_clock::now();
  recovery_summary sum;
  // Shards replay their own partitions: in parallel.
  std::vector<result<std::uint64_t>> results(shards_.size(), result<std::uint64_t>(std::uint64_t{0}));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    threads.emplace_back([&results, s = shards_[i].get(), i] { results[i] = s->recover(); });
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
  base::mutex_lock lk(mu_);
  for (auto& s : shards_) s->start();
}

void aggregator::stop() {
  base::mutex_lock lk(mu_);
  for (auto& s : shards_) s->stop();
}

result<recovery_summary> aggregator::assign(const std::vector<log::partition_id>& partitions) {
  base::mutex_lock lk(mu_);
  for (auto& s : shards_) s->stop();
  build(partitions);
  auto r = recover_locked();
  if (!r) {
    shards_.clear();
    return r.error();
  }
  for (auto& s : shards_) s->start();
  return r;
}

void aggregator::revoke() {
  base::mutex_lock lk(mu_);
  for (auto& s : shards_) s->stop();
  shards_.clear();
}

std::vector<shard_status> aggregator::status() const {
  base::mutex_lock lk(mu_);
  std::vector<shard_status> out;
  for (const auto& s : shards_) out.push_back(s->status());
  return out;
}

std::int64_t aggregator::final_through_ms() const {
  base::mutex_lock lk(mu_);
  if (shards_.empty()) return INT64_MIN;
  std::int64_t m = INT64_MAX;
  for (const auto& s : shards_) m = std::min(m, s->final_through_ms());
  return m;
}

}  // namespace adclick::agg
