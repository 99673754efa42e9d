#include "agg/shard.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/event_clock.h"
#include "base/wall_time.h"
#include "base/floor_div.h"
#include "base/mutex.h"
#include "state/store.h"

namespace adclick::agg {
namespace {

std::int64_t minute_of(std::int64_t ms) {
  return base::floor_div(ms, 60000);
}

constexpr std::size_t kReadBatch = 4096;
// A shard that has caught up reads again after this pause (a quarter of
// the flush interval when that is shorter; none under 100 ms).
constexpr std::chrono::milliseconds kMaxReadPause{20};

// The first offset in [lo, hi) whose record's event time is at or after
// `t`, by a binary search over the records (event times in a partition are
// in append order but for the clocks' skew, which the caller allows for);
// hi when there is none. Records that cannot be read count as later.
result<log::offset_t> first_at_or_after(log::click_log& log, log::partition_id p, log::offset_t lo,
                                        log::offset_t hi, std::int64_t t) {
  if (lo >= hi) return hi;
  auto reader = log.open_reader(p, lo);
  while (lo < hi) {
    const log::offset_t mid = lo + (hi - lo) / 2;
    reader->seek(mid);
    std::int64_t at = INT64_MAX;
    log::offset_t seen = hi;
    auto n = reader->read(
        1,
        [&](log::offset_t off, const click_view& v) {
          seen = off;
          at = v.event_time_ms;
        },
        nullptr);
    if (!n) return n.error();
    if (*n == 0 || seen >= hi || at >= t) {
      hi = mid;
    } else {
      lo = seen + 1;
    }
  }
  return lo;
}

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
  if (options_.sink != nullptr) {
    if (auto ec = restore_dedup()) return ec;
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
    const auto slot = options_.sink != nullptr ? static_cast<std::uint32_t>(i) : 0;
    auto n = readers_[i]->read(
        max_per_partition, [this, slot](log::offset_t, const click_view& v) { apply(v, slot); }, &bad);
    if (!n) return n.error();
    total += *n;
  }
  if (dedup_failed_) {
    // What was read since the last commit cannot be told apart from copies:
    // read it again once the dedup family answers.
    spdlog::error("agg: shard {}: the dedup keys cannot be read; reading again from the committed offsets", id_);
    if (auto ec = reread_from_state()) return ec;
    return state::state_errc::io;
  }
  return total;
}

bool shard::duplicate(const click_view& v, std::uint32_t slot, std::string& key) {
  if (dedup_failed_) return true;  // reread from the committed offsets once the batch ends
  key = state::dedup_key(v.ad_id, v.impression_id);
  if (auto it = pending_keys_.find(key); it != pending_keys_.end()) {
    auto& e = dedup_[it->second];
    e.expires_at_s = std::max(e.expires_at_s, v.expires_at_s);
    ++duplicates_seen_[{v.ad_id, minute_of(v.event_time_ms), slot}];
    duplicates_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  auto stored = store_.get_dedup(v.ad_id, v.impression_id);
  if (!stored) {
    dedup_failed_ = true;
    return true;
  }
  if (!stored->has_value()) return false;
  if (v.expires_at_s > **stored) {
    // A re-signed copy: the key lives as long as its latest signature.
    pending_keys_.emplace(std::move(key), dedup_.size());
    keep_dedup_key(v);
  }
  ++duplicates_seen_[{v.ad_id, minute_of(v.event_time_ms), slot}];
  duplicates_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::error_code shard::restore_dedup() {
  const std::int64_t now_s = base::floor_div(options_.now_ms(), 1000);
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    const auto p = partitions_[i];
    const log::offset_t to = committed_[i];
    auto through = store_.get_dedup_through(p);
    if (!through) return through.error();
    const log::offset_t have = through->value_or(0);
    if (have >= to) continue;
    auto first = first_at_or_after(log_, p, std::max(have, log_.start_offset(p)), to,
                                   options_.now_ms() - options_.dedup_window.count());
    if (!first) return first.error();
    const log::offset_t from = *first;
    std::uint64_t keys = 0;
    if (from < to) {
      auto reader = log_.open_reader(p, from);
      struct restored {
        std::uint64_t ad_id;
        std::string impression_id;
        std::int64_t expires_at_s;
      };
      std::unordered_map<std::string, restored> found;
      auto write_found = [&](bool last) -> std::error_code {
        state::write_batch b;
        for (const auto& [k, e] : found) b.put_dedup(e.ad_id, e.impression_id, e.expires_at_s);
        if (last) b.put_dedup_through(p, to);
        keys += found.size();
        found.clear();
        return store_.write(b, true);
      };
      while (reader->position() < to) {
        auto n = reader->read(
            std::min<log::offset_t>(kReadBatch, to - reader->position()),
            [&](log::offset_t off, const click_view& v) {
              if (off >= to || v.expires_at_s < now_s) return;
              auto [it, fresh] = found.try_emplace(
                  state::dedup_key(v.ad_id, v.impression_id),
                  restored{v.ad_id, std::string(v.impression_id), v.expires_at_s});
              if (!fresh) it->second.expires_at_s = std::max(it->second.expires_at_s, v.expires_at_s);
            },
            nullptr);
        if (!n) return n.error();
        if (*n == 0) break;
        if (found.size() >= 100'000) {
          if (auto ec = write_found(false)) return ec;
        }
      }
      if (auto ec = write_found(true)) return ec;
    } else {
      state::write_batch b;
      b.put_dedup_through(p, to);
      if (auto ec = store_.write(b, true)) return ec;
    }
    spdlog::info("agg: shard {}: partition {}: {} dedup keys restored from offsets {} to {}", id_, p, keys, from, to);
  }
  return {};
}

std::error_code shard::reread_from_state() {
  deltas_.clear();
  late_.clear();
  duplicates_seen_.clear();
  dedup_.clear();
  dedup_bytes_.clear();
  pending_keys_.clear();
  dedup_failed_ = false;
  write_failed_ = false;
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    auto off = store_.get_offset(partitions_[i]);
    if (!off) return off.error();
    committed_[i] = off->value_or(0);
    readers_[i]->seek(committed_[i]);
  }
  return restore_dedup();
}

void shard::apply(const click_view& v, std::uint32_t slot) {
  std::string key;
  if (options_.sink != nullptr && duplicate(v, slot, key)) return;
  max_event_ms_ = std::max(max_event_ms_, v.event_time_ms);
  const std::int64_t wm = std::max(watermark_ms_.load(std::memory_order_relaxed),
                                   max_event_ms_ - options_.max_out_of_orderness.count());
  watermark_ms_.store(wm, std::memory_order_relaxed);
  const window_key k{v.ad_id, minute_of(v.event_time_ms), slot};
  if (v.event_time_ms < wm - options_.allowed_lateness.count()) {
    // Too late for the speed layer: the batch layer counts it.
    ++late_[k];
    late_records_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++deltas_[k];
  }
  if (options_.sink != nullptr) pending_keys_.emplace(std::move(key), dedup_.size());
  keep_dedup_key(v);
  records_applied_.fetch_add(1, std::memory_order_relaxed);
}

void shard::keep_dedup_key(const click_view& v) {
  std::uint64_t prefix = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    prefix = (prefix << 8) |
             (i < v.impression_id.size() ? static_cast<unsigned char>(v.impression_id[i]) : 0u);
  }
  dedup_.push_back({v.ad_id, prefix, v.expires_at_s,
                    static_cast<std::uint32_t>(dedup_bytes_.size()),
                    static_cast<std::uint32_t>(v.impression_id.size())});
  dedup_bytes_.append(v.impression_id);
}

void shard::add_dedup_keys(state::write_batch& b) {
  // A sorted copy: in cluster mode pending_keys_ holds indexes into dedup_.
  dedup_sorted_.assign(dedup_.begin(), dedup_.end());
  std::sort(dedup_sorted_.begin(), dedup_sorted_.end(),
            [this](const dedup_entry& x, const dedup_entry& y) {
              if (x.ad_id != y.ad_id) return x.ad_id < y.ad_id;
              if (x.prefix != y.prefix) return x.prefix < y.prefix;
              return impression(x) < impression(y);
            });
  for (const auto& d : dedup_sorted_) b.put_dedup(d.ad_id, impression(d), d.expires_at_s);
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
  if (options_.sink != nullptr) {
    const auto ec = flush_cluster(positions, wm);
    if (!ec) publish(positions);
    return ec;
  }
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
  // The counts rows in key order, as the dedup keys: the window map is unordered.
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
  add_dedup_keys(b);
  for (std::size_t i = 0; i < partitions_.size(); ++i) b.put_offset(partitions_[i], positions[i]);
  b.put_watermark(id_, wm);
  return b;
}

std::error_code shard::flush_cluster(const std::vector<log::offset_t>& positions, std::int64_t wm) {
  const bool moved = positions != committed_;
  if (!moved && deltas_.empty() && late_.empty() && wm == committed_watermark_) return {};
  auto failed = [this](std::error_code ec) {
    commit_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("agg: shard {}: commit failed, will retry: {}", id_, ec.message());
    return ec;
  };
  base::mutex_lock lk(options_.partials->mu);
  // The state's offsets are this shard's last commit, or (after a write that
  // reported failure) this very batch's; anything else means another writer
  // moved them (the materializer, applying another node's flush of a
  // partition this node had given up): read again from there.
  bool landed = true;
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    auto off = store_.get_offset(partitions_[i]);
    if (!off) return failed(off.error());
    const auto stored = off->value_or(0);
    if (stored == positions[i] && (write_failed_ || positions[i] == committed_[i])) continue;
    landed = false;
    if (stored != committed_[i]) {
      spdlog::warn("agg: shard {}: partition {} is at offset {} in the state, not {}: reading again from there", id_,
                   partitions_[i], stored, committed_[i]);
      lk.unlock();
      if (auto ec = reread_from_state()) return failed(ec);
      return {};
    }
  }
  if (landed && write_failed_) {
    mark_committed(positions, wm);
    return {};
  }

  // Each touched (partition, ad, minute, kind): its absolute value.
  struct cell {
    window_key k;
    state::tally_kind kind;
    std::uint64_t old_value;
    std::uint64_t value;
  };
  std::vector<cell> cells;
  cells.reserve(deltas_.size() + late_.size());
  auto add = [&](const window_key& k, state::tally_kind kind, std::uint64_t n) -> std::error_code {
    auto old = store_.get_partial(k.ad_id, k.minute, kind, partition_source(partitions_[k.slot]));
    if (!old) return old.error();
    const std::uint64_t before = old->has_value() ? (*old)->value : 0;
    cells.push_back({k, kind, before, before + n});
    return {};
  };
  for (const auto& [k, n] : deltas_) {
    if (auto ec = add(k, state::tally_kind::clicks, n)) return failed(ec);
  }
  for (const auto& [k, n] : late_) {
    if (auto ec = add(k, state::tally_kind::late, n)) return failed(ec);
  }
  for (const auto& [k, n] : duplicates_seen_) {
    if (auto ec = add(k, state::tally_kind::duplicate, n)) return failed(ec);
  }
  std::sort(cells.begin(), cells.end(), [](const cell& a, const cell& b) {
    if (a.k.ad_id != b.k.ad_id) return a.k.ad_id < b.k.ad_id;
    if (a.k.minute != b.k.minute) return a.k.minute < b.k.minute;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.k.slot < b.k.slot;
  });

  std::vector<partial_count> partials;
  partials.reserve(cells.size());
  for (const auto& c : cells) {
    partials.push_back({partitions_[c.k.slot], c.k.ad_id, c.k.minute, c.kind, c.value, positions[c.k.slot]});
  }
  std::vector<flush_mark> marks;
  // Every partition's mark when the watermark moved (other nodes' finality
  // follows it), else the moved ones'.
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    if (positions[i] != committed_[i] || wm != committed_watermark_) marks.push_back({partitions_[i], positions[i], wm});
  }
  if (!marks.empty()) {
    if (auto ec = options_.sink->publish(partials, marks)) return failed(ec);
  }

  state::write_batch b;
  active_.clear();
  for (std::size_t i = 0; i < cells.size();) {
    // One counts cell: every source's partial, with this flush's in place of
    // what they were.
    std::size_t j = i;
    const auto& first = cells[i];
    auto sum = store_.sum_partials(first.k.ad_id, first.k.minute, first.kind);
    if (!sum) return failed(sum.error());
    std::uint64_t total = *sum;
    for (; j < cells.size() && cells[j].k.ad_id == first.k.ad_id && cells[j].k.minute == first.k.minute &&
           cells[j].kind == first.kind;
         ++j) {
      const auto& c = cells[j];
      total += c.value - c.old_value;
      b.put_partial(c.k.ad_id, c.k.minute, c.kind, partition_source(partitions_[c.k.slot]),
                    {c.value, positions[c.k.slot]});
    }
    b.set_count(first.k.ad_id, first.k.minute, first.kind, total);
    if (first.kind == state::tally_kind::clicks) active_.emplace_back(state::row_hour(first.k.minute), first.k.ad_id);
    i = j;
  }
  std::sort(active_.begin(), active_.end());
  active_.erase(std::unique(active_.begin(), active_.end()), active_.end());
  for (const auto& [hour, ad] : active_) b.put_active(hour, ad);
  add_dedup_keys(b);
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    b.put_offset(partitions_[i], positions[i]);
    b.put_dedup_through(partitions_[i], positions[i]);
    b.put_partition_watermark(partitions_[i], wm);
  }
  b.put_watermark(id_, wm);
  const auto t0 = std::chrono::steady_clock::now();
  const auto ec = store_.write(b, true);
  commit_ns_.fetch_add(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()),
                       std::memory_order_relaxed);
  if (ec) {
    write_failed_ = true;
    return failed(ec);
  }
  commit_bytes_.fetch_add(b.bytes(), std::memory_order_relaxed);
  mark_committed(positions, wm);
  return {};
}

void shard::mark_committed(const std::vector<log::offset_t>& positions, std::int64_t wm) {
  write_failed_ = false;
  commits_.fetch_add(1, std::memory_order_relaxed);
  deltas_.clear();
  late_.clear();
  duplicates_seen_.clear();
  dedup_.clear();
  dedup_bytes_.clear();
  pending_keys_.clear();
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
  // A flush interval under 100 ms asks for the freshest counts: read at
  // every group commit then.
  const std::chrono::steady_clock::duration read_pause =
      options_.flush_interval >= std::chrono::milliseconds(100)
          ? std::min<std::chrono::steady_clock::duration>(options_.flush_interval / 4, kMaxReadPause)
          : std::chrono::steady_clock::duration::zero();
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
    } else if (n && *n < kReadBatch && read_pause.count() > 0) {
      // Caught up: what arrives next comes a group commit (a few records)
      // at a time. Let it gather rather than wake for each one (a context
      // switch per group commit per shard); nothing is published before the
      // flush anyway.
      std::this_thread::sleep_until(std::min(next_flush, now + read_pause));
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
  s.duplicates = duplicates_.load(std::memory_order_relaxed);
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
