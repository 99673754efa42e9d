#include "recon/recount.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/error_category.h"
#include "base/floor_div.h"
#include "base/wall_time.h"
#include "recon/impression_map.h"

namespace adclick::recon {
namespace {

const char* describe(recount_errc e) noexcept {
  switch (e) {
    case recount_errc::cancelled: return "the reconciliation was cancelled";
    case recount_errc::log_read: return "the log could not be read";
    case recount_errc::state: return "the state store failed";
  }
  return nullptr;
}

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::size_t kReadBatch = 4096;
// How many items ahead (per partition) the dedup set's slot is prefetched.
constexpr std::size_t kPrefetchAhead = 8;

// What a read record contributes; copied out of the reader's buffer.
struct item {
  std::int64_t t_ms;
  std::uint64_t ad_id;
  std::int64_t expires_at_s;
  impression_key key;
};

// Reads one partition's overlapping segments, up to the snapshot.
struct cursor {
  log::partition_id partition = 0;
  std::vector<std::pair<log::offset_t, log::offset_t>> ranges;  // [begin, end) offsets
  std::size_t range = 0;
  std::unique_ptr<log::partition_reader> reader;
  std::vector<item> buf;
  std::size_t pos = 0;
  std::int64_t max_t_ms = INT64_MIN;  // for telling which records the speed layer took as late
  bool done = false;
  // The next offset expected within the current range: records of a range
  // are dense (a hole starts a new segment, so a new range), so a jump
  // inside one means records went missing under the reader.
  log::offset_t expect = 0;
  bool expect_set = false;

  bool has_item() const { return pos < buf.size(); }
  const item& head() const { return buf[pos]; }
};

// 16 bytes, so that a slot of the impression map is 32 and two share a
// cache line.
struct seen {
  std::int64_t t_ms;          // event time of the copy that counts (the earliest)
  std::int32_t expires_rel;   // the latest expiry among the copies, s from the pass's base (saturated)
  bool counted;               // that copy is in [from, to)
};

class pass {
 public:
  pass(log::click_log& log, state::store& store, const recount_options& o, report& r, cancel_token& cancel)
      : log_(log), store_(store), o_(o), r_(r), cancel_(cancel) {
    slack_ms_ = o.max_out_of_orderness_ms + o.allowed_lateness_ms + kMinuteMs;
  }

  // Long on purpose: the numbered steps share the snapshot and must run in
  // this order; each is a few lines.
  std::error_code run() {
    // 1. Snapshot the durable ends, then the finality (in this order: what is
    //    final was decided from records the snapshot holds).
    const std::uint32_t parts = log_.partitions();
    r_.snapshot.clear();
    for (std::uint32_t p = 0; p < parts; ++p) r_.snapshot.push_back({p, log_.durable_end(p)});
    auto final_ms = state::committed_final_through_ms(store_, o_.shards, o_.allowed_lateness_ms, o_.watermark_partitions);
    if (!final_ms) return recount_errc::state;
    from_ = base::floor_div(r_.requested_from_ms, kMinuteMs) * kMinuteMs;
    to_ = base::floor_div(r_.requested_to_ms, kMinuteMs) * kMinuteMs;
    if (!final_ms->has_value()) {
      to_ = from_;  // the speed layer has committed nothing yet: nothing is final
    } else {
      to_ = std::min(to_, **final_ms);
    }
    // Records of deleted segments are gone: never recount a minute whose
    // history (or the dedup window before it) they may have held.
    std::int64_t history_from = INT64_MIN;
    for (std::uint32_t p = 0; p < parts; ++p) {
      if (log_.start_offset(p) == 0) continue;
      for (const auto& s : log_.segments(p)) {
        if (s.records == 0) continue;
        history_from = std::max(history_from, s.min_event_time_ms);
        break;
      }
    }
    if (history_from != INT64_MIN) {
      const std::int64_t earliest = history_from + o_.max_validity_ms + slack_ms_;
      from_ = std::max(from_, (base::floor_div(earliest - 1, kMinuteMs) + 1) * kMinuteMs);
    }
    if (to_ < from_) to_ = from_;
    r_.from_ms = from_;
    r_.to_ms = to_;
    if (to_ == from_) return {};
    plan_hole_windows(parts);

    // 2. The segments that meet the scan window, per partition, pinned
    //    against retention for the run (before they are listed, so none of
    //    the listed ones can go).
    scan_from_ = from_ - o_.max_validity_ms - slack_ms_;
    base_s_ = base::floor_div(scan_from_, 1000);
    for (std::uint32_t p = 0; p < parts; ++p) pins_.push_back(log_.pin(p, 0));
    for (std::uint32_t p = 0; p < parts; ++p) {
      cursor c;
      c.partition = p;
      const log::offset_t end = r_.snapshot[p].end_offset;
      for (const auto& s : log_.segments(p)) {
        if (s.records == 0 || s.base_offset >= end) continue;
        if (s.max_event_time_ms < scan_from_ || s.min_event_time_ms >= to_) continue;
        const log::offset_t b = s.base_offset, e = std::min(s.end_offset, end);
        if (!c.ranges.empty() && c.ranges.back().second == b) {
          c.ranges.back().second = e;  // adjacent segments: one range
        } else {
          c.ranges.emplace_back(b, e);
        }
        ++r_.segments_read;
      }
      if (c.ranges.empty()) continue;
      c.reader = log_.open_reader(p, c.ranges.front().first);
      cursors_.push_back(std::move(c));
    }

    // 3. Merge the partitions in event-time order.
    started_ = std::chrono::steady_clock::now();
    open_hour_ = base::floor_div(from_, kHourMs);
    auto later = [this](std::size_t a, std::size_t b) {
      return cursors_[a].head().t_ms > cursors_[b].head().t_ms;
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> heads(later);
    for (std::size_t i = 0; i < cursors_.size(); ++i) {
      if (auto ec = refill(cursors_[i])) return ec;
      if (cursors_[i].has_item()) heads.push(i);
    }
    while (!heads.empty()) {
      const std::size_t i = heads.top();
      heads.pop();
      cursor& c = cursors_[i];
      const item it = c.head();
      ++c.pos;
      if (c.pos + kPrefetchAhead < c.buf.size()) seen_.prefetch(c.buf[c.pos + kPrefetchAhead].key);
      if (auto ec = apply(c, it)) return ec;
      if (!c.has_item()) {
        if (auto ec = refill(c)) return ec;
      }
      if (c.has_item()) heads.push(i);
    }

    // 4. Everything read: finish the hours still open.
    clock_ms_ = INT64_MAX;
    if (auto ec = finish_hours()) return ec;
    return {};
  }

 private:
  // A hole's lost records had event times from just before the newest record
  // kept ahead of them up to when the hole was found: those minutes cannot be
  // recounted, so they are left as the speed layer counted them. A lost
  // record may also have had a duplicate later in the log, which this pass
  // would count as the first copy: for a validity window after the hole no
  // minute is corrected upward.
  void plan_hole_windows(std::uint32_t parts) {
    for (std::uint32_t p = 0; p < parts; ++p) {
      for (const auto& h : log_.holes(p)) {
        const std::int64_t lo = h.after_event_ms == INT64_MIN
                                    ? INT64_MIN
                                    : base::floor_div(h.after_event_ms - o_.max_out_of_orderness_ms, kMinuteMs) * kMinuteMs;
        const std::int64_t hi = (base::floor_div(h.found_ms, kMinuteMs) + 1) * kMinuteMs;
        const std::int64_t up_to = hi + o_.max_validity_ms + slack_ms_;
        if (std::max(lo, from_) < std::min(up_to, to_)) {
          r_.log_holes.push_back({h.partition, h.from, h.to, std::max(lo, from_), std::min(hi, to_)});
          holes_.push_back({lo, hi, up_to});
        }
      }
    }
  }

  // Per minute slot of `hour`: bit set when the minute must be left alone
  // (skip), or only corrected downward (no_up).
  void hole_masks(std::int64_t hour, std::uint64_t& skip, std::uint64_t& no_up) const {
    skip = no_up = 0;
    for (const auto& w : holes_) {
      for (int slot = 0; slot < 60; ++slot) {
        const std::int64_t ms = (hour * 60 + slot) * kMinuteMs;
        if (ms >= w.lo && ms < w.hi) skip |= std::uint64_t{1} << slot;
        if (ms >= w.hi && ms < w.up_to) no_up |= std::uint64_t{1} << slot;
      }
    }
  }

  // Reads the next batch of c's current range (moving to its next range when
  // one is done), pacing to max_read_rate.
  std::error_code refill(cursor& c) {
    c.buf.clear();
    c.pos = 0;
    while (!c.done && c.buf.empty()) {
      if (cancel_.cancelled()) return recount_errc::cancelled;
      if (c.range >= c.ranges.size()) {
        c.done = true;
        break;
      }
      const auto [begin, end] = c.ranges[c.range];
      if (c.reader->position() < begin) c.reader->seek(begin);
      if (c.reader->position() >= end) {
        ++c.range;
        continue;
      }
      std::vector<log::corruption> skipped;
      std::uint64_t bytes = 0;
      auto n = c.reader->read(
          kReadBatch,
          [&](log::offset_t off, const click_view& v) {
            // A read may run on into the next segments: keep what lies in a
            // later range, skip what lies between ranges.
            while (c.range < c.ranges.size() && off >= c.ranges[c.range].second) {
              ++c.range;
              c.expect_set = false;
            }
            if (c.range >= c.ranges.size() || off < c.ranges[c.range].first) return;
            const log::offset_t want = c.expect_set ? c.expect : c.ranges[c.range].first;
            if (off != want && !gap_) gap_ = std::pair(want, off);
            c.expect = off + 1;
            c.expect_set = true;
            // Frame (checksum, length, type, offset) + fixed fields + strings.
            bytes += 48 + v.key_id.size() + v.impression_id.size() + v.user_agent.size();
            c.buf.push_back({v.event_time_ms, v.ad_id, v.expires_at_s, key_of(v.ad_id, v.impression_id)});
          },
          &skipped);
      if (!n) {
        spdlog::error("recon: reading partition {}: {}", c.partition, n.error().message());
        return recount_errc::log_read;
      }
      if (gap_ && skipped.empty()) {
        // Records of the planned range are gone without a checksum failure
        // to explain it (deleted under the reader): counting on would
        // correct their minutes down. The run fails instead.
        spdlog::error("recon: partition {}: records {}..{} vanished while the run read them", c.partition,
                      gap_->first, gap_->second - 1);
        return recount_errc::log_read;
      }
      gap_.reset();
      for (const auto& s : skipped) {
        ++r_.corrupt_stretches;
        r_.corrupt_bytes += s.bytes_skipped;
        spdlog::warn("recon: partition {} segment {}: skipped {} corrupt bytes at {} (not counted)",
                     s.partition, s.segment_base, s.bytes_skipped, s.position);
      }
      r_.records_read += c.buf.size();
      r_.bytes_read += bytes;
      if (*n == 0) {
        // The durable end of this partition came before the range's end
        // (retention or truncation): nothing more to read here.
        c.done = true;
        break;
      }
      if (auto ec = pace()) return ec;
    }
    return {};
  }

  std::error_code pace() {
    if (o_.max_read_rate == 0) return {};
    const double allowed_s = static_cast<double>(r_.bytes_read) / static_cast<double>(o_.max_read_rate);
    const auto elapsed = std::chrono::steady_clock::now() - started_;
    const auto due = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(allowed_s));
    if (due > elapsed && cancel_.sleep_for(due - elapsed)) return recount_errc::cancelled;
    return {};
  }

  std::error_code apply(cursor& c, const item& it) {
    const std::int64_t t = it.t_ms;
    // As the speed layer judged it: late if older than this partition's
    // newest event time minus out-of-orderness and lateness (approximately:
    // the speed layer's watermark spans all partitions of its shard).
    const bool late_for_speed =
        c.max_t_ms != INT64_MIN && t < c.max_t_ms - o_.max_out_of_orderness_ms - o_.allowed_lateness_ms;
    c.max_t_ms = std::max(c.max_t_ms, t);
    if (t >= clock_ms_) {
      clock_ms_ = t;
      if (auto ec = finish_hours()) return ec;
      evict();
    }
    if (t < scan_from_ || t >= to_) return {};  // cannot matter to [from, to)
    const bool in_range = t >= from_;
    if (in_range) ++r_.records_in_range;
    auto [entry, inserted] = seen_.try_emplace(it.key, seen{t, rel_s(it.expires_at_s), in_range});
    if (inserted) {
      remember_expiry(it.expires_at_s, it.key);
      r_.dedup_peak_entries = std::max<std::uint64_t>(r_.dedup_peak_entries, seen_.size());
      if (in_range) {
        if (late_for_speed) ++r_.late_included;
        return count(it.ad_id, t, +1);
      }
      return {};
    }
    seen& s = *entry;
    if (it.expires_at_s > abs_s(s.expires_rel)) {
      s.expires_rel = rel_s(it.expires_at_s);
      remember_expiry(it.expires_at_s, it.key);
    }
    if (t >= s.t_ms) {
      if (in_range) ++r_.duplicates_found;  // an earlier copy counts (or was before the range)
      return {};
    }
    // This copy is older than the one counted so far (out of order): the
    // count moves to its minute, and the other copy becomes the duplicate.
    if (s.counted) {
      ++r_.duplicates_found;
      if (auto ec = count(it.ad_id, s.t_ms, -1)) return ec;
    }
    s.t_ms = t;
    s.counted = in_range;
    if (in_range) {
      if (late_for_speed) ++r_.late_included;
      return count(it.ad_id, t, +1);
    }
    return {};
  }

  // Impressions are forgotten by expiry minute: one bucket of keys per
  // minute, dropped whole once the scan is past it (plus the slack).
  void remember_expiry(std::int64_t expires_at_s, const impression_key& key) {
    const std::int64_t minute = base::floor_div(expires_at_s, 60);
    if (last_bucket_ == nullptr || last_bucket_minute_ != minute) {
      last_bucket_ = &expiry_[minute];
      last_bucket_minute_ = minute;
    }
    last_bucket_->push_back(key);
  }

  // Forgets impressions whose expiry the scan has passed (by more than the
  // slack): no copy of them can come later in event time.
  void evict() {
    while (!expiry_.empty()) {
      auto first = expiry_.begin();
      const std::int64_t bucket_end_s = (first->first + 1) * 60;
      if (bucket_end_s * 1000 + slack_ms_ >= clock_ms_) break;
      for (const auto& key : first->second) {
        // A later copy may have moved the expiry on (it is in a later bucket too).
        if (seen* s = seen_.find(key); s != nullptr && abs_s(s->expires_rel) < bucket_end_s) seen_.erase(key);
      }
      if (last_bucket_ == &first->second) last_bucket_ = nullptr;
      expiry_.erase(first);
    }
  }

  std::error_code count(std::uint64_t ad_id, std::int64_t t_ms, std::int64_t delta) {
    const std::int64_t minute = base::floor_div(t_ms, kMinuteMs);
    const std::int64_t hour = base::floor_div(minute, 60);
    if (hour >= open_hour_) {
      if (open_rows_ == nullptr || open_rows_hour_ != hour) {
        open_rows_ = &open_[hour];
        open_rows_hour_ = hour;
      }
      auto& row = (*open_rows_)[ad_id];
      row[static_cast<std::size_t>(minute - hour * 60)] += static_cast<std::uint64_t>(delta);
      return {};
    }
    // Its hour is already finished: correct that one minute now.
    auto stored = store_.get_count_row(ad_id, hour, state::tally_kind::clicks);
    if (!stored) return recount_errc::state;
    const int slot = state::row_slot(minute);
    const std::uint64_t before = (stored->present >> slot & 1) != 0 ? stored->value[slot] : 0;
    const std::uint64_t after = before + static_cast<std::uint64_t>(delta);
    if (o_.publish_corrections) {
      if (o_.publish_corrections({{ad_id, minute, after}})) return recount_errc::state;
    } else {
      state::write_batch b;
      b.set_count(ad_id, minute, state::tally_kind::clicks, after);
      b.put_active(hour, ad_id);
      if (store_.write(b, true)) return recount_errc::state;
    }
    ++r_.rows_corrected;
    r_.drift_net += delta;
    r_.drift_abs += static_cast<std::uint64_t>(delta < 0 ? -delta : delta);
    r_.clicks_counted += static_cast<std::uint64_t>(delta);
    return {};
  }

  // Finishes every open hour whose end the scan clock has passed by the slack
  // (all of them at the end), up to the range's end.
  std::error_code finish_hours() {
    const std::int64_t last_hour = base::floor_div(to_ - 1, kHourMs);
    while (open_hour_ <= last_hour &&
           (clock_ms_ == INT64_MAX || (open_hour_ + 1) * kHourMs + slack_ms_ <= clock_ms_)) {
      if (cancel_.cancelled()) return recount_errc::cancelled;
      if (auto ec = finish_hour(open_hour_)) return ec;
      ++open_hour_;
    }
    return {};
  }

  std::error_code finish_hour(std::int64_t hour) {
    const std::int64_t first_minute = std::max(hour * 60, from_ / kMinuteMs);
    const std::int64_t end_minute = std::min(hour * 60 + 60, to_ / kMinuteMs);
    std::map<std::uint64_t, std::array<std::uint64_t, 60>> computed;
    if (auto pos = open_.find(hour); pos != open_.end()) {
      computed.insert(pos->second.begin(), pos->second.end());
      if (open_rows_ == &pos->second) open_rows_ = nullptr;
      open_.erase(pos);
    }
    // Ads with a stored row this hour but no click in the log (a damaged row).
    if (store_.scan_active_ads(hour, [&](std::uint64_t ad) { computed.try_emplace(ad); })) {
      return recount_errc::state;
    }
    std::uint64_t skip = 0, no_up = 0;
    hole_masks(hour, skip, no_up);
    state::write_batch b;
    std::vector<std::tuple<std::uint64_t, std::int64_t, std::uint64_t>> corrections;
    for (const auto& [ad, exact] : computed) {
      auto stored = store_.get_count_row(ad, hour, state::tally_kind::clicks);
      if (!stored && stored.error() == state::state_errc::corrupt) {
        // A damaged row: replace it whole with the exact minutes of the range
        // (minutes of that hour outside the range are lost with the damage).
        spdlog::error("recon: counts row of ad {} hour {} is damaged; rewriting it", ad, hour);
        state::minute_row fresh;
        for (std::int64_t m = first_minute; m < end_minute; ++m) {
          const int slot = static_cast<int>(m - hour * 60);
          const std::uint64_t want = exact[static_cast<std::size_t>(slot)];
          fresh.present |= std::uint64_t{1} << slot;
          fresh.value[slot] = want;
          r_.clicks_counted += want;
          ++r_.rows_checked;
          ++r_.rows_corrected;
          r_.drift_net += static_cast<std::int64_t>(want);
          r_.drift_abs += want;
        }
        b.put_count_row(ad, hour, state::tally_kind::clicks, fresh);
        b.put_active(hour, ad);
        continue;
      }
      if (!stored) return recount_errc::state;
      bool any = false;
      for (std::int64_t m = first_minute; m < end_minute; ++m) {
        const int slot = static_cast<int>(m - hour * 60);
        const std::uint64_t want = exact[static_cast<std::size_t>(slot)];
        const bool present = (stored->present >> slot & 1) != 0;
        const std::uint64_t have = present ? stored->value[slot] : 0;
        if ((skip >> slot & 1) != 0 || ((no_up >> slot & 1) != 0 && want > have)) {
          ++r_.rows_unchecked;  // a log hole: neither checked nor corrected
          continue;
        }
        r_.clicks_counted += want;
        ++r_.rows_checked;
        if (want == have) continue;
        if (o_.publish_corrections) {
          corrections.emplace_back(ad, m, want);
        } else {
          b.set_count(ad, m, state::tally_kind::clicks, want);
          any = true;
        }
        ++r_.rows_corrected;
        const auto diff = static_cast<std::int64_t>(want - have);
        r_.drift_net += diff;
        r_.drift_abs += static_cast<std::uint64_t>(diff < 0 ? -diff : diff);
      }
      if (any) b.put_active(hour, ad);
    }
    // One synced batch per hour: all of its corrections or none.
    if (b.operations() > 0 && store_.write(b, true)) return recount_errc::state;
    if (!corrections.empty() && o_.publish_corrections(corrections)) return recount_errc::state;
    return {};
  }

  log::click_log& log_;
  state::store& store_;
  const recount_options& o_;
  report& r_;
  cancel_token& cancel_;

  std::int64_t slack_ms_ = 0;
  std::int64_t from_ = 0, to_ = 0, scan_from_ = 0;
  // Expiries in the impression map are seconds from here (the scan's start):
  // int32 spans 68 years either way, and one beyond that saturates, which
  // changes nothing a recount decides (such a click is expired, or never).
  std::int64_t base_s_ = 0;
  std::int32_t rel_s(std::int64_t abs_s) const {
    const std::int64_t d = abs_s > INT64_MAX / 2 ? INT32_MAX : abs_s < INT64_MIN / 2 ? INT32_MIN : abs_s - base_s_;
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(d, INT32_MIN, INT32_MAX));
  }
  std::int64_t abs_s(std::int32_t rel) const { return base_s_ + rel; }
  std::int64_t clock_ms_ = INT64_MIN;  // the newest event time merged so far
  std::int64_t open_hour_ = 0;         // hours before it are finished
  std::chrono::steady_clock::time_point started_;
  std::vector<cursor> cursors_;
  std::vector<std::shared_ptr<void>> pins_;  // retention holds off the run's segments
  std::optional<std::pair<log::offset_t, log::offset_t>> gap_;  // (expected, found) in the last read
  struct hole_window {
    std::int64_t lo, hi, up_to;  // skip [lo, hi), no upward correction [hi, up_to)
  };
  std::vector<hole_window> holes_;
  impression_map<seen> seen_;
  std::map<std::int64_t, std::vector<impression_key>> expiry_;  // expiry minute -> keys
  std::vector<impression_key>* last_bucket_ = nullptr;          // the bucket appended to last
  std::int64_t last_bucket_minute_ = 0;
  std::map<std::int64_t, std::unordered_map<std::uint64_t, std::array<std::uint64_t, 60>>> open_;
  std::unordered_map<std::uint64_t, std::array<std::uint64_t, 60>>* open_rows_ = nullptr;  // of open_rows_hour_
  std::int64_t open_rows_hour_ = 0;
};

}  // namespace

const std::error_category& recount_category() noexcept {
  static const base::errc_category<recount_errc> c("adclick.recount", describe);
  return c;
}

std::error_code recount(log::click_log& log, state::store& store, const recount_options& o, report& r,
                        cancel_token& cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  r.started_ms = base::wall_now_ms();
  pass p(log, store, o, r, cancel);
  const auto ec = p.run();
  r.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return ec;
}

}  // namespace adclick::recon
