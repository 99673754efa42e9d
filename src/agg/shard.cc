#include "agg/shard.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/event_clock.h"
#include "base/floor_div.h"
#include "base/mutex.h"
#include "state/store.h"

namespace adclick::agg {
namespace {

std::int64_t minute_of(std::int64_t ms) {
  return base::floor_div(ms, 60000);
}

constexpr std::size_t kReadBatch = 4096;

}  // namespace

shard::shard(std::uint32_t id, std::vector<log::partition_id> partitions, log::click_log& log,
             state::store& store, shard_options options, commit_listener on_commit)
    : id_(id),
      partitions_(std::move(partitions)),
      log_(log),
      store_(store),
      options_([&] {
        if (!options.now_ms) options.now_ms = base::event_now_ms;
        return options;
      }()),
      on_commit_(std::move(on_commit)) {}

shard::~shard() { stop(); }

result<std::uint64_t> shard::recover() {
  readers_.clear();
  committed_.clear();
  for (auto p : partitions_) {
    auto off = store_.get_offset(p);
    if (!off) return off.error();
    const log::offset_t from = off->value_or(0);
    if (from > log_.durable_end(p)) {
      // RocksDB says more was applied than the log holds: the log lost records
      // (e.g. durability "os" and a power loss). Refuse to guess.
      spdlog::error(
          "agg: shard {}: partition {} committed offset {} is beyond the log's end {}; the log "
          "lost records that were already counted",
          id_, p, from, log_.durable_end(p));
    }
    readers_.push_back(log_.open_reader(p, from));
    committed_.push_back(from);
  }
  auto wm = store_.get_watermark(id_);
  if (!wm) return wm.error();
  if (wm->has_value()) watermark_ms_.store(**wm);

  std::uint64_t replayed = 0;
  for (;;) {
    auto n = poll(kReadBatch);
    if (!n) return n.error();
    replayed += *n;
    if (*n == 0) break;
    if (deltas_.size() + dedup_.size() > 200'000) {
      if (auto ec = flush()) return ec;
    }
  }
  if (auto ec = flush()) return ec;
  caught_up_ = true;
  return replayed;
}

void shard::start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { run(); });
}

void shard::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

result<std::size_t> shard::poll(std::size_t max_per_partition) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    std::vector<log::corruption> bad;
    auto n = readers_[i]->read(
        max_per_partition, [this](log::offset_t, const click_view& v) { apply(v); }, &bad);
    if (!n) return n.error();
    total += *n;
  }
  return total;
}

void shard::apply(const click_view& v) {
  max_event_ms_ = std::max(max_event_ms_, v.event_time_ms);
  const std::int64_t wm = std::max(watermark_ms_.load(std::memory_order_relaxed),
                                   max_event_ms_ - options_.max_out_of_orderness.count());
  watermark_ms_.store(wm, std::memory_order_relaxed);
  const window_key k{v.ad_id, minute_of(v.event_time_ms)};
  if (v.event_time_ms < wm - options_.allowed_lateness.count()) {
    // Too late for the speed layer: the batch layer counts it.
    ++late_[k];
    late_records_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++deltas_[k];
  }
  dedup_.push_back({v.ad_id, std::string(v.impression_id), v.expires_at_s});
  records_applied_.fetch_add(1, std::memory_order_relaxed);
}

void shard::advance_idle_watermark() {
  // Caught up with the durable end: any record still to come was stamped
  // after now minus its append latency, so the clock bounds the watermark.
  const std::int64_t wm = options_.now_ms() - options_.max_out_of_orderness.count();
  if (wm > watermark_ms_.load(std::memory_order_relaxed)) {
    watermark_ms_.store(wm, std::memory_order_relaxed);
  }
}

std::error_code shard::flush() {
  std::vector<log::offset_t> positions;
  positions.reserve(readers_.size());
  for (auto& r : readers_) positions.push_back(r->position());
  const bool moved = positions != committed_;
  const std::int64_t wm = watermark_ms_.load(std::memory_order_relaxed);
  bool landed = false;
  if (write_failed_ && moved) {
    // The last write of this very batch failed, but a failed write may still
    // have been applied (its outcome is unknown: the WAL record written,
    // only its sync failed). Merge-adds are not idempotent, so ask the state
    // first: the offsets went in the same batch as the deltas.
    auto applied = offsets_stored(positions);
    if (!applied) {
      commit_failures_.fetch_add(1, std::memory_order_relaxed);
      return applied.error();
    }
    landed = *applied;
    if (landed) {
      spdlog::warn("agg: shard {}: the commit that reported a failure had been applied; not applying it again",
                   id_);
    }
  }
  if (landed) {
    mark_committed(positions, wm);
  } else if (moved || !deltas_.empty() || !late_.empty() || wm != committed_watermark_) {
    state::write_batch b = commit_batch(positions, wm);
    const auto t0 = std::chrono::steady_clock::now();
    const auto ec = store_.write(b, true);
    commit_ns_.fetch_add(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()),
                         std::memory_order_relaxed);
    if (ec) {
      // Keep everything: the next flush retries the same effects with the
      // same offsets, once it has made sure this batch was not applied.
      commit_failures_.fetch_add(1, std::memory_order_relaxed);
      write_failed_ = true;
      spdlog::error("agg: shard {}: commit failed, will retry: {}", id_, ec.message());
      return ec;
    }
    commit_bytes_.fetch_add(b.bytes(), std::memory_order_relaxed);
    mark_committed(positions, wm);
  }
  publish(positions);
  return {};
}

state::write_batch shard::commit_batch(const std::vector<log::offset_t>& positions, std::int64_t wm) {
  // Keys in order: RocksDB's memtable inserts a sorted run far faster than
  // random keys (it reuses its skiplist position).
  std::sort(dedup_.begin(), dedup_.end(), [](const dedup_entry& a, const dedup_entry& b) {
    return a.ad_id != b.ad_id ? a.ad_id < b.ad_id : a.impression_id < b.impression_id;
  });
  // The counts rows too: the window map is unordered.
  rows_.assign(deltas_.begin(), deltas_.end());
  std::sort(rows_.begin(), rows_.end(), [](const auto& a, const auto& b) {
    return a.first.ad_id != b.first.ad_id ? a.first.ad_id < b.first.ad_id : a.first.minute < b.first.minute;
  });
  state::write_batch b;
  active_.clear();
  for (const auto& [k, n] : rows_) {
    b.add_count(k.ad_id, k.minute, state::tally_kind::clicks, n);
    active_.emplace_back(state::row_hour(k.minute), k.ad_id);
  }
  // The hour index lets the batch layer find every ad with a row in an hour.
  std::sort(active_.begin(), active_.end());
  active_.erase(std::unique(active_.begin(), active_.end()), active_.end());
  for (const auto& [hour, ad] : active_) b.put_active(hour, ad);
  for (const auto& [k, n] : late_) b.add_count(k.ad_id, k.minute, state::tally_kind::late, n);
  for (const auto& d : dedup_) b.put_dedup(d.ad_id, d.impression_id, d.expires_at_s);
  for (std::size_t i = 0; i < partitions_.size(); ++i) b.put_offset(partitions_[i], positions[i]);
  b.put_watermark(id_, wm);
  return b;
}

void shard::mark_committed(const std::vector<log::offset_t>& positions, std::int64_t wm) {
  write_failed_ = false;
  commits_.fetch_add(1, std::memory_order_relaxed);
  deltas_.clear();
  late_.clear();
  dedup_.clear();
  committed_ = positions;
  committed_watermark_ = wm;
}

void shard::publish(const std::vector<log::offset_t>& positions) {
  {
    base::mutex_lock lk(status_mu_);
    published_.clear();
    for (std::size_t i = 0; i < partitions_.size(); ++i) {
      published_.push_back({partitions_[i], committed_[i], positions[i], log_.durable_end(partitions_[i])});
    }
  }
  if (on_commit_) {
    for (std::size_t i = 0; i < partitions_.size(); ++i) on_commit_(partitions_[i], committed_[i]);
  }
}

result<bool> shard::offsets_stored(const std::vector<log::offset_t>& positions) {
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    auto off = store_.get_offset(partitions_[i]);
    if (!off) return off.error();
    if (off->value_or(0) != positions[i]) return false;
  }
  return true;
}

void shard::run() {
  auto next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
  std::uint64_t generation = log_.durable_generation();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (commit_failing_) {
      // The last commit failed: read no further (what is read but not
      // committed is held in memory) and retry at the next flush interval.
      const auto now = std::chrono::steady_clock::now();
      if (now < next_flush) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            next_flush - now, std::chrono::milliseconds(100)));
        continue;
      }
      commit_failing_ = static_cast<bool>(flush());
      next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
      continue;
    }
    const std::uint64_t seen = log_.durable_generation();
    auto n = poll(kReadBatch);
    if (!n) {
      spdlog::error("agg: shard {}: reading the log failed: {}", id_, n.error().message());
    }
    const bool idle = n && *n == 0;
    if (idle && caught_up_) advance_idle_watermark();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_flush) {
      commit_failing_ = static_cast<bool>(flush());
      next_flush = now + options_.flush_interval;
    }
    if (idle) {
      generation = log_.wait_durable(seen, std::min(next_flush, now + std::chrono::milliseconds(100)));
    }
  }
  (void)generation;
  // Drain what is durable, then a last commit (while commits fail, only
  // the last try: the log keeps the rest for the next start's replay).
  for (;;) {
    if (commit_failing_) break;
    auto n = poll(kReadBatch);
    if (!n || *n == 0) break;
  }
  (void)flush();
}

shard_status shard::status() const {
  shard_status s;
  s.shard = id_;
  s.watermark_ms = watermark_ms_.load(std::memory_order_relaxed);
  s.records_applied = records_applied_.load(std::memory_order_relaxed);
  s.late_records = late_records_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.commit_failures = commit_failures_.load(std::memory_order_relaxed);
  s.commit_ns = commit_ns_.load(std::memory_order_relaxed);
  s.commit_bytes = commit_bytes_.load(std::memory_order_relaxed);
  base::mutex_lock lk(status_mu_);
  s.partitions = published_;
  return s;
}

std::int64_t shard::final_through_ms() const {
  const auto wm = watermark_ms_.load(std::memory_order_relaxed);
  if (wm == INT64_MIN) return INT64_MIN;
  return wm - options_.allowed_lateness.count();
}

}  // namespace adclick::agg
