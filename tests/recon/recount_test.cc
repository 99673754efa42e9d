#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "agg/aggregator.h"
#include "log/archive.h"
#include "log/segmented_log.h"
#include "recon/reconciler.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace std::chrono_literals;

namespace {

// The speed layer's commits as an event to wait on: the aggregator's commit
// listener bumps it, a test waits for the next one (or for a condition
// re-checked at every commit) instead of sleeping.
class commit_signal {
 public:
  agg::commit_listener listener() {
    return [this](log::partition_id, log::offset_t) {
      std::lock_guard lock(mu_);
      ++commits_;
      cv_.notify_all();
    };
  }
  std::uint64_t commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }
  // Waits until a commit after `seen` (or `stop`), up to `timeout`.
  void wait_after(std::uint64_t seen, const std::atomic<bool>& stop, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return commits_ > seen || stop.load(); });
  }
  // Re-checks `pred` at every commit; true once it holds, false after `timeout`.
  template <class Pred>
  bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mu_);
    while (!pred()) {
      const std::uint64_t seen = commits_;
      if (!cv_.wait_until(lock, deadline, [&] { return commits_ > seen; })) return pred();
    }
    return true;
  }
  void wake() { cv_.notify_all(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t commits_ = 0;  // guarded by mu_
};

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kHour = 3'600'000;

std::int64_t real_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct fixture {
  testutil::temp_dir dir;
  std::unique_ptr<log::segmented_log> lg;
  std::unique_ptr<state::store> store;
  // The shards' clock (fake): half past the hour before the current one, so
  // that it stays in the past (the log keeps the real clock) while tests move it.
  std::atomic<std::int64_t> now_ms{real_now() / kHour * kHour - kHour + 30 * kMin};
  std::uint64_t segment_size = 64ull << 20;
  std::chrono::milliseconds retention{7 * 86'400'000};
  std::vector<std::uint64_t> resume_floor;  // log_options::resume_floor at the next open

  fixture() { open(); }
  ~fixture() {
    if (lg) lg->stop();
  }
  void open() {
    log::log_options o;
    o.dir = dir / "log";
    o.partitions = 4;
    o.mode = log::durability::os;  // fast; durability is the log's own tests' business
    o.segment_size = segment_size;
    o.retention = retention;
    o.resume_floor = resume_floor;
    log::recovery_report rep;
    std::string err;
    auto l = log::segmented_log::open(o, rep, err);
    INFO(err);
    REQUIRE(l);
    lg = std::move(*l);
    lg->start();
    if (!store) {
      auto s = state::store::open(dir / "state", err);
      REQUIRE(s);
      store = std::move(*s);
    }
  }
  void reopen_log() {
    lg->stop();
    lg.reset();
    open();
  }
  // A click in partition ad % 4 (or `partition`).
  void click(std::uint64_t ad, std::int64_t event_ms, const std::string& imp, int partition = -1,
             std::int64_t exp_s = 0) {
    click_record r;
    r.event_time_ms = event_ms;
    r.ad_id = ad;
    r.expires_at_s = exp_s != 0 ? exp_s : event_ms / 1000 + 3600;
    r.key_id = "k1";
    r.impression_id = imp;
    const auto p = static_cast<log::partition_id>(partition >= 0 ? partition : static_cast<int>(ad % 4));
    REQUIRE(lg->append_and_wait(p, r));
  }
  // As if the speed layer had committed everything up to `wm_ms` (shards 0, 1).
  void speed_layer_at(std::int64_t wm_ms) {
    state::write_batch b;
    for (std::uint32_t s = 0; s < 2; ++s) b.put_watermark(s, wm_ms);
    for (std::uint32_t p = 0; p < 4; ++p) b.put_offset(p, lg->durable_end(p));
    REQUIRE_FALSE(store->write(b, true));
  }
  void stored(std::uint64_t ad, std::int64_t minute_ms, std::uint64_t v) {
    state::write_batch b;
    b.set_count(ad, minute_ms / kMin, state::tally_kind::clicks, v);
    b.put_active(minute_ms / kHour, ad);
    REQUIRE_FALSE(store->write(b, true));
  }
  std::map<std::int64_t, std::uint64_t> counts(std::uint64_t ad, state::tally_kind kind = state::tally_kind::clicks) {
    std::map<std::int64_t, std::uint64_t> out;
    REQUIRE_FALSE(store->scan_counts(ad, 0, INT64_MAX / 120, [&](std::int64_t m, state::tally_kind k, std::uint64_t v) {
      if (k == kind && v != 0) out[m * kMin] += v;
    }));
    return out;
  }
  recon::reconciler_options options() {
    recon::reconciler_options o;
    o.recount.max_validity_ms = 2 * kHour;
    o.recount.allowed_lateness_ms = 60'000;
    o.recount.max_out_of_orderness_ms = 5'000;
    o.recount.shards = 2;
    o.interval = std::chrono::hours(1);
    o.lookback = std::chrono::hours(24);
    return o;
  }
};

}  // namespace

TEST_CASE("drift repaired: changed, deleted and phantom rows are overwritten with the exact count",
          "[recon]") {
  fixture f;
  const std::int64_t m0 = f.now_ms - 20 * kMin;  // two closed minutes
  const std::int64_t m1 = m0 + kMin;
  for (int i = 0; i < 3; ++i) f.click(1, m0 + i * 1000, "a" + std::to_string(i));
  for (int i = 0; i < 2; ++i) f.click(1, m1 + i * 1000, "b" + std::to_string(i));
  f.click(2, m0 + 5000, "c0");
  // What the speed layer left, damaged behind its back: ad 1's m1 changed
  // (5 instead of 2), ad 2's row deleted (missing), and a row for ad 3 that
  // has no click in the log.
  f.stored(1, m0, 3);
  f.stored(1, m1, 5);
  f.stored(3, m0, 4);
  f.speed_layer_at(f.now_ms);

  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m0 - kHour, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->state == recon::run_state::done);
  CHECK(r->to_ms == f.now_ms - 60'000);  // cut back to finality: watermark - lateness
  CHECK(r->records_in_range == 6);
  CHECK(r->clicks_counted == 6);
  CHECK(r->rows_corrected == 3);
  CHECK(r->drift_net == (2 - 5) + (1 - 0) + (0 - 4));
  CHECK(r->drift_abs == 8);
  CHECK(f.counts(1) == std::map<std::int64_t, std::uint64_t>{{m0, 3}, {m1, 2}});
  CHECK(f.counts(2) == std::map<std::int64_t, std::uint64_t>{{m0, 1}});
  CHECK(f.counts(3).empty());
  // An API run that does not start at the reconciled mark does not move it.
  CHECK_FALSE(r->reconciled_through_ms);

  // The report is stored; a second run finds nothing to correct.
  auto stored = f.store->get_report(r->id);
  REQUIRE(stored);
  REQUIRE(*stored);
  auto back = recon::report_from_json(**stored);
  REQUIRE(back);
  CHECK(back->rows_corrected == 3);
  auto again = rec.run_now(m0 - kHour, f.now_ms, recon::trigger::cli);
  REQUIRE(again);
  CHECK(again->rows_corrected == 0);
  CHECK(again->rows_checked > 0);
  CHECK(again->id == r->id + 1);

  // The periodic run covers everything the log holds and moves the mark.
  auto periodic = rec.run_periodic_now();
  REQUIRE(periodic);
  REQUIRE(*periodic);
  CHECK((*periodic)->state == recon::run_state::done);
  REQUIRE((*periodic)->reconciled_through_ms);
  CHECK(*(*periodic)->reconciled_through_ms == f.now_ms - 60'000);
  auto rt = f.store->get_reconciled_through();
  REQUIRE(rt);
  REQUIRE(*rt);
  CHECK(**rt == f.now_ms - 60'000);
}

TEST_CASE("nothing final, nothing touched: minutes the speed layer may still change are left alone",
          "[recon]") {
  fixture f;
  const std::int64_t m = f.now_ms - 30 * 1000;  // the current minute
  f.click(1, m, "x");
  f.stored(1, m, 9);  // wrong, but not final: the speed layer owns it
  f.speed_layer_at(f.now_ms);
  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m - kHour, m + kHour, recon::trigger::api);
  REQUIRE(r);
  CHECK(r->state == recon::run_state::done);
  CHECK(r->to_ms <= m);
  CHECK(f.counts(1)[m / kMin * kMin] == 9);

  SECTION("no watermark committed at all: an empty range") {
    fixture g;
    g.click(1, g.now_ms - 20 * kMin, "y");
    recon::reconciler rec2(*g.lg, *g.store, g.options());
    auto r2 = rec2.run_now(g.now_ms - kHour, g.now_ms, recon::trigger::api);
    REQUIRE(r2);
    CHECK(r2->from_ms == r2->to_ms);
    CHECK(r2->records_read == 0);
  }
}

TEST_CASE("dedup beyond the speed layer: a duplicate whose key was lost is counted once", "[recon]") {
  fixture f;
  const std::int64_t m0 = f.now_ms - 20 * kMin;
  const std::int64_t exp = m0 / 1000 + 1800;
  // The same signed click twice, ten seconds apart: its dedup key was gone
  // (forced here by appending straight to the log), so both were logged and
  // the speed layer counted both.
  f.click(5, m0, "dup", -1, exp);
  f.click(5, m0 + 10'000, "dup", -1, exp);
  // A click whose first copy is before the range (and in another partition:
  // the ad went hot meanwhile): only the earlier copy counts, outside.
  f.click(6, m0 - 3 * kMin, "early", 1, exp);
  f.click(6, m0 + 1000, "early", 2, exp);
  // An out-of-order older copy: the count moves to its minute.
  f.click(7, m0 + kMin + 1000, "moved", 3, exp);
  f.click(7, m0 + 2000, "moved", 3, exp);
  f.stored(5, m0, 2);
  f.stored(6, m0, 1);
  f.stored(7, m0 + kMin, 1);
  f.speed_layer_at(f.now_ms);

  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m0, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->duplicates_found == 3);
  CHECK(f.counts(5) == std::map<std::int64_t, std::uint64_t>{{m0, 1}});
  CHECK(f.counts(6).empty());
  CHECK(f.counts(7) == std::map<std::int64_t, std::uint64_t>{{m0, 1}});
  CHECK(r->dedup_peak_entries >= 3);
}

TEST_CASE("a late click is counted by reconciliation, and the late tally explains the difference",
          "[recon]") {
  fixture f;
  agg::shard_options so;
  so.flush_interval = 20ms;
  so.allowed_lateness = 60s;
  so.max_out_of_orderness = 5s;
  so.now_ms = [&f] { return f.now_ms.load(); };
  commit_signal commits;
  agg::aggregator agg(*f.lg, *f.store, 2, so, commits.listener());
  REQUIRE(agg.recover());
  agg.start();
  const std::int64_t t1 = f.now_ms - 10'000;
  f.click(1, t1, "on-time", 0);
  // Three minutes later a click moves shard 0's watermark on...
  f.now_ms += 3 * kMin;
  const std::int64_t t2 = f.now_ms - 1000;
  f.click(1, t2, "later", 0);
  REQUIRE(commits.wait_until([&] { return f.counts(1).count(t2 / kMin * kMin) == 1; }));
  // ...so a click stamped next to the first one is now later than the
  // allowed lateness: the speed layer tallies it `late` and does not count it.
  f.click(1, t1 + 1000, "late", 0);
  f.now_ms += kMin;
  std::map<std::int64_t, std::uint64_t> late;
  CHECK(commits.wait_until([&] {
    late = f.counts(1, state::tally_kind::late);
    auto ft = state::committed_final_through_ms(*f.store, 2, 60'000);
    return !late.empty() && ft && *ft && **ft > t1 + kMin;
  }));
  agg.stop();
  REQUIRE(late.size() == 1);
  CHECK(late.begin()->second == 1);
  const std::int64_t old_minute = t1 / kMin * kMin;
  const std::int64_t m_old = t1;
  CHECK(f.counts(1)[old_minute] == 1);  // the speed layer counted only the on-time click there

  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m_old - kHour, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->late_included == 1);
  CHECK(r->rows_corrected == 1);
  CHECK(r->drift_net == 1);
  const auto after = f.counts(1);
  CHECK(after.at(old_minute) == 2);
  // Speed layer + late tally = reconciled, minute by minute.
  CHECK(after.at(old_minute) - 1 == late.at(old_minute));
}

TEST_CASE("a corrupt record is reported and not counted", "[recon]") {
  fixture f;
  f.segment_size = 4096;  // several sealed segments
  f.reopen_log();
  const std::int64_t m0 = f.now_ms - 20 * kMin;
  for (int i = 0; i < 120; ++i) f.click(4, m0 + i * 100, "imp-" + std::to_string(i), 0);
  f.stored(4, m0, 120);
  f.speed_layer_at(f.now_ms);
  f.lg->stop();
  f.lg.reset();
  // Damage a byte in the middle of the first segment of partition 0.
  std::string first;
  for (const auto& e : std::filesystem::directory_iterator(f.dir / "log/p0000")) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".seg" && (first.empty() || name < std::filesystem::path(first).filename().string())) {
      first = e.path().string();
    }
  }
  REQUIRE_FALSE(first.empty());
  {
    std::fstream file(first, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1500);
    const char junk = '\x5a';
    file.write(&junk, 1);
  }
  f.open();
  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m0 - kHour, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->state == recon::run_state::done);
  CHECK(r->corrupt_stretches >= 1);
  CHECK(r->corrupt_bytes > 0);
  CHECK(r->records_in_range < 120);
  CHECK(r->clicks_counted == r->records_in_range);
  std::uint64_t total = 0;
  for (const auto& [m, v] : f.counts(4)) total += v;
  CHECK(total == r->records_in_range);
}

TEST_CASE("a run stopped midway is cancelled, queued again at the next start, and completes", "[recon]") {
  fixture f;
  const std::int64_t m0 = f.now_ms - 25 * kMin;
  for (int i = 0; i < 400; ++i) f.click(8, m0 + i * 1000, "s-" + std::to_string(i));
  f.stored(8, m0, 1);  // everything else missing
  f.speed_layer_at(f.now_ms);
  auto o = f.options();
  o.recount.max_read_rate = 4000;  // bytes/s: ~40 KB of records take ~10 s
  std::uint64_t id = 0;
  {
    recon::reconciler rec(*f.lg, *f.store, o);
    REQUIRE_FALSE(rec.start());
    auto r = rec.request(m0 - kHour, f.now_ms, recon::trigger::api);
    REQUIRE(r);
    id = r->id;
    CHECK(r->state == recon::run_state::queued);
    for (int i = 0; i < 200; ++i) {
      auto text = f.store->get_report(id);
      if (text && *text && recon::report_from_json(**text)->state == recon::run_state::running) break;
      std::this_thread::sleep_for(10ms);
    }
    rec.stop();
  }
  auto text = f.store->get_report(id);
  REQUIRE(text);
  REQUIRE(*text);
  auto cancelled = recon::report_from_json(**text);
  REQUIRE(cancelled);
  CHECK(cancelled->state == recon::run_state::cancelled);
  CHECK(f.counts(8).size() < 7);  // not all minutes were corrected

  o.recount.max_read_rate = 0;
  recon::reconciler again(*f.lg, *f.store, o);
  REQUIRE_FALSE(again.start());
  std::optional<recon::report> done;
  for (int i = 0; i < 500; ++i) {
    auto t = f.store->get_report(id);
    if (t && *t) {
      done = recon::report_from_json(**t);
      if (done && done->state == recon::run_state::done) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  again.stop();
  REQUIRE(done);
  CHECK(done->state == recon::run_state::done);
  CHECK(done->attempts == 2);
  std::uint64_t total = 0;
  for (const auto& [m, v] : f.counts(8)) total += v;
  CHECK(total == 400);
}

TEST_CASE("retention deletes only segments a reconciliation has covered", "[recon]") {
  fixture f;
  f.segment_size = 4096;
  f.retention = std::chrono::minutes(1);
  f.reopen_log();
  // Ten days ago, a few segments' worth; then recent clicks.
  const std::int64_t old = f.now_ms - 10 * 24 * kHour;
  for (int i = 0; i < 150; ++i) f.click(9, old + i * 1000, "old-" + std::to_string(i), 0);
  for (int i = 0; i < 10; ++i) f.click(9, f.now_ms - 10 * kMin + i, "new-" + std::to_string(i), 0);
  f.speed_layer_at(f.now_ms);
  const auto before = f.lg->segments(0).size();
  REQUIRE(before >= 3);
  f.lg->enforce_retention();
  CHECK(f.lg->segments(0).size() == before);  // nothing reconciled yet: nothing deleted

  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_periodic_now();
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((*r)->state == recon::run_state::done);
  std::uint64_t total = 0;
  for (const auto& [m, v] : f.counts(9)) total += v;
  CHECK(total == 160);
  f.lg->enforce_retention();
  const auto after = f.lg->segments(0);
  CHECK(after.size() < before);
  CHECK(f.lg->start_offset(0) > 0);
  // What remains still holds every recent click; a later run changes nothing.
  auto again = rec.run_periodic_now();
  REQUIRE(again);
  REQUIRE(*again);
  CHECK((*again)->rows_corrected == 0);
  total = 0;
  for (const auto& [m, v] : f.counts(9)) total += v;
  CHECK(total == 160);
}

TEST_CASE("no race: reconciliations during a live speed layer never double count", "[recon]") {
  fixture f;
  agg::shard_options so;
  so.flush_interval = 10ms;
  so.allowed_lateness = 2s;
  so.max_out_of_orderness = 1s;
  so.now_ms = [&f] { return f.now_ms.load(); };
  commit_signal commits;
  agg::aggregator agg(*f.lg, *f.store, 2, so, commits.listener());
  REQUIRE(agg.recover());
  agg.start();
  auto o = f.options();
  o.recount.allowed_lateness_ms = 2'000;
  o.recount.max_out_of_orderness_ms = 1'000;
  recon::reconciler rec(*f.lg, *f.store, o);

  // Clicks at the (fake) clock, which runs 50x faster than real time, while
  // a reconciliation of whatever is final follows every speed-layer commit.
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  // Reconciliations started and finished, guarded by runs_mu.
  std::mutex runs_mu;
  std::condition_variable runs_cv;
  int started = 0;
  int runs = 0;
  std::thread reconciling([&] {
    while (!done.load()) {
      const std::uint64_t seen = commits.commits();
      {
        std::lock_guard lock(runs_mu);
        ++started;
      }
      auto r = rec.run_periodic_now();
      if (!r) ++failures;
      {
        std::lock_guard lock(runs_mu);
        ++runs;
      }
      runs_cv.notify_all();
      commits.wait_after(seen, done);
    }
  });
  // Every 100 clicks the clicking waits for a reconciliation that started
  // after them, so runs interleave with the speed layer however fast the
  // disk makes the appends (a fast fdatasync once let all 3,000 clicks land
  // before the second run).
  bool interleaved = true;
  const auto await_a_later_run = [&] {
    std::unique_lock lock(runs_mu);
    const int after = started;
    interleaved = runs_cv.wait_for(lock, 10s, [&] { return runs > after; }) && interleaved;
  };
  const std::int64_t start = f.now_ms.load();
  std::uint64_t sent = 0;
  for (int i = 0; i < 3000; ++i) {
    if (i % 100 == 99) await_a_later_run();
    click_record r;
    r.event_time_ms = f.now_ms.load();
    r.ad_id = 1 + static_cast<std::uint64_t>(i % 3);
    r.expires_at_s = r.event_time_ms / 1000 + 600;
    r.key_id = "k1";
    r.impression_id = "live-" + std::to_string(i);
    if (!f.lg->append_and_wait(static_cast<log::partition_id>(i % 4), r)) ++failures;
    ++sent;
    f.now_ms += 50;  // 3000 clicks over 150 s of event time
  }
  f.now_ms += 10 * kMin;  // let every minute become final
  CHECK(commits.wait_until([&] {
    auto ft = state::committed_final_through_ms(*f.store, 2, 2'000);
    return ft && *ft && **ft >= start + 3 * kMin;
  }));
  done = true;
  commits.wake();
  reconciling.join();
  CHECK(interleaved);
  CHECK(runs >= 30);  // reconciliations did run beside the speed layer
  agg.stop();
  auto last = rec.run_periodic_now();
  REQUIRE(last);
  CHECK(failures == 0);

  // Independent recount: read the log back and count by (ad, minute).
  std::map<std::pair<std::uint64_t, std::int64_t>, std::uint64_t> expect;
  std::set<std::string> seen;
  for (log::partition_id p = 0; p < 4; ++p) {
    auto reader = f.lg->open_reader(p, 0);
    for (;;) {
      auto n = reader->read(1024, [&](log::offset_t, const click_view& v) {
        if (seen.insert(std::to_string(v.ad_id) + "/" + std::string(v.impression_id)).second) {
          ++expect[{v.ad_id, v.event_time_ms / kMin * kMin}];
        }
      });
      REQUIRE(n);
      if (*n == 0) break;
    }
  }
  std::uint64_t total = 0;
  for (std::uint64_t ad = 1; ad <= 3; ++ad) {
    for (const auto& [m, v] : f.counts(ad)) {
      CHECK(expect[{ad, m}] == v);
      total += v;
    }
  }
  CHECK(total == sent);
}

TEST_CASE("archive round trip: reconciled segments archived before deletion, recounted from the archive",
          "[recon]") {
  fixture f;
  f.segment_size = 4096;
  f.retention = std::chrono::minutes(1);
  f.reopen_log();
  std::string err;
  auto archive = log::segment_archive::open(f.dir / "archive", err);
  INFO(err);
  REQUIRE(archive);
  const std::int64_t old = f.now_ms - 10 * 24 * kHour;
  for (int i = 0; i < 150; ++i) f.click(9, old + i * 1000, "old-" + std::to_string(i), 0);
  for (int i = 0; i < 10; ++i) f.click(9, f.now_ms - 10 * kMin + i, "new-" + std::to_string(i), 0);
  f.speed_layer_at(f.now_ms);
  auto o = f.options();
  log::live_log_archive live_archive(**archive, f.dir / "log");
  o.archive = &live_archive;
  recon::reconciler rec(*f.lg, *f.store, o);
  auto r = rec.run_periodic_now();
  REQUIRE(r);
  REQUIRE(*r);
  const auto exact = f.counts(9);
  const auto archived = (*archive)->segments();
  REQUIRE(archived.size() >= 2);
  CHECK(rec.totals().segments_archived == archived.size());
  f.lg->enforce_retention();
  CHECK(f.lg->start_offset(0) > 0);
  CHECK(f.lg->start_offset(0) <= archived.back().end_offset);  // nothing deleted that is not archived

  // The archive verifies clean, and an archive reopened reads the same manifest.
  CHECK(log::is_archive_dir(f.dir / "archive"));
  const auto clean = log::inspect_archive(f.dir / "archive");
  INFO(log::format_report(clean));
  CHECK(clean.clean());
  CHECK(clean.records >= 100);
  auto reopened = log::segment_archive::open(f.dir / "archive", err);
  REQUIRE(reopened);
  CHECK((*reopened)->segments().size() == archived.size());

  // Counts of the old minutes damaged; the live log no longer holds them.
  for (const auto& [m, v] : exact) {
    if (m < f.now_ms - kHour) f.stored(9, m, v + 5);
  }
  // Recount from the archive: its segments become a log of their own.
  std::string problem;
  const std::string scratch = f.dir / "from-archive";
  auto n = log::extract_range(**archive, 4, old - 3 * kHour, old + kHour, scratch, problem);
  INFO(problem);
  REQUIRE(n);
  CHECK(*n == archived.size());
  {
    log::log_options lo;
    lo.dir = scratch;
    lo.partitions = 4;
    log::recovery_report rep;
    auto alog = log::segmented_log::open(lo, rep, err);
    REQUIRE(alog);
    // The archive is complete only before the first record the live log
    // holds that it does not (the newest old clicks share a segment with
    // the recent ones).
    const std::int64_t complete = log::archive_complete_before(**archive, *f.lg);
    CHECK(complete == old + 149'000);
    const std::int64_t to = std::min(old + kHour, complete / kMin * kMin);
    recon::reconciler from_archive(**alog, *f.store, f.options());
    auto ar = from_archive.run_now(old - kHour, to, recon::trigger::cli);
    REQUIRE(ar);
    INFO(recon::to_json(*ar));
    CHECK(ar->state == recon::run_state::done);
    CHECK(ar->records_in_range == 120);
    CHECK(ar->rows_corrected == 2);  // the two old minutes wholly in the archive
    (*alog)->stop();
  }
  auto after = f.counts(9);
  const std::int64_t m0 = old / kMin * kMin;
  CHECK(after[m0] == exact.at(m0));
  CHECK(after[m0 + kMin] == exact.at(m0 + kMin));
  CHECK(after[m0 + 2 * kMin] == exact.at(m0 + 2 * kMin) + 5);  // not in the archive completely: left alone

  // A damaged archived file is reported.
  const std::string file = f.dir / ("archive/p0000/" + std::string(20 - 1, '0') + "0.seg.zst");
  {
    std::fstream zf(file, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(zf);
    zf.seekp(20);
    const char junk = '\x77';
    zf.write(&junk, 1);
  }
  const auto damaged = log::inspect_archive(f.dir / "archive");
  CHECK_FALSE(damaged.clean());
}

TEST_CASE("a hole in the log: its minutes are neither recounted down nor reported as checked",
          "[recon]") {
  fixture f;
  const std::int64_t m0 = f.now_ms - 20 * kMin;
  const std::int64_t early = m0 - 10 * kMin;
  // Ad 1 (partition 1): 3 clicks in the log, but the speed layer counted 5:
  // the last two records were lost (a power loss under durability "os")
  // after the shard had committed their offsets.
  for (int i = 0; i < 3; ++i) f.click(1, m0 + i * 1000, "a" + std::to_string(i));
  f.stored(1, m0, 5);
  // Ad 2 (partition 2), well before the lost records: drift to repair.
  f.click(2, early, "b0");
  f.stored(2, early, 7);
  f.speed_layer_at(f.now_ms);
  f.resume_floor = {0, f.lg->durable_end(1) + 2, 0, 0};
  f.reopen_log();
  const auto holes = f.lg->holes(1);
  REQUIRE(holes.size() == 1);
  CHECK(holes[0].from == 3);
  CHECK(holes[0].to == 5);

  recon::reconciler rec(*f.lg, *f.store, f.options());
  auto r = rec.run_now(m0 - kHour, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->state == recon::run_state::done);
  // The hole's minute keeps the speed layer's count; the earlier drift is repaired.
  CHECK(f.counts(1) == std::map<std::int64_t, std::uint64_t>{{m0 / kMin * kMin, 5}});
  CHECK(f.counts(2) == std::map<std::int64_t, std::uint64_t>{{early / kMin * kMin, 1}});
  REQUIRE(r->log_holes.size() == 1);
  CHECK(r->log_holes[0].partition == 1);
  CHECK(r->log_holes[0].from_offset == 3);
  CHECK(r->log_holes[0].to_offset == 5);
  CHECK(r->log_holes[0].unchecked_from_ms <= m0 / kMin * kMin);
  CHECK(r->log_holes[0].unchecked_to_ms > m0);
  CHECK(r->rows_unchecked >= 1);
  CHECK(r->rows_corrected == 1);
  // And the report says so after a round trip through the store.
  auto back = recon::report_from_json(recon::to_json(*r));
  REQUIRE(back);
  REQUIRE(back->log_holes.size() == 1);
  CHECK(back->rows_unchecked == r->rows_unchecked);
}

namespace {

// The real log, whose readers run retention once, right after their first
// read: as if retention ran in the middle of a reconciliation.
class retention_mid_read final : public log::click_log {
 public:
  explicit retention_mid_read(log::segmented_log& real) : real_(real) {}
  std::uint32_t partitions() const override { return real_.partitions(); }
  void append(log::partition_id p, const click_record& r, log::append_handler done) override {
    real_.append(p, r, std::move(done));
  }
  log::offset_t durable_end(log::partition_id p) const override { return real_.durable_end(p); }
  log::offset_t start_offset(log::partition_id p) const override { return real_.start_offset(p); }
  std::uint64_t durable_generation() const override { return real_.durable_generation(); }
  std::uint64_t wait_durable(std::uint64_t seen, std::chrono::steady_clock::time_point d) const override {
    return real_.wait_durable(seen, d);
  }
  std::vector<log::segment_info> segments(log::partition_id p) const override { return real_.segments(p); }
  std::vector<log::offset_hole> holes(log::partition_id p) const override { return real_.holes(p); }
  std::shared_ptr<void> pin(log::partition_id p, log::offset_t from) override { return real_.pin(p, from); }
  void set_delete_floor(log::partition_id p, log::offset_t o) override { real_.set_delete_floor(p, o); }
  std::unique_ptr<log::partition_reader> open_reader(log::partition_id p, log::offset_t from) override {
    struct reader final : log::partition_reader {
      std::unique_ptr<log::partition_reader> inner;
      retention_mid_read* owner;
      result<std::size_t> read(std::size_t n, const std::function<void(log::offset_t, const click_view&)>& fn,
                               std::vector<log::corruption>* skipped) override {
        auto r = inner->read(std::min<std::size_t>(n, 10), fn, skipped);  // small reads: the race has room
        if (!owner->ran_) {
          owner->ran_ = true;
          owner->real_.enforce_retention();
        }
        return r;
      }
      log::offset_t position() const override { return inner->position(); }
      void seek(log::offset_t o) override { inner->seek(o); }
    };
    auto r = std::make_unique<reader>();
    r->inner = real_.open_reader(p, from);
    r->owner = this;
    return r;
  }

 private:
  log::segmented_log& real_;
  bool ran_ = false;
};

}  // namespace

TEST_CASE("retention during a reconciliation deletes none of the segments it reads", "[recon]") {
  // Regression: segments planned for a run could be deleted while it read
  // them; the reader went on at the next segment, and the run corrected the
  // minutes of the deleted records down.
  fixture f;
  f.segment_size = 4096;
  f.retention = std::chrono::minutes(1);
  f.reopen_log();
  const std::int64_t old = f.now_ms - 3 * kHour;
  for (int i = 0; i < 150; ++i) f.click(9, old + i * 1000, "old-" + std::to_string(i), 0);
  f.speed_layer_at(f.now_ms);
  state::write_batch b;
  for (int i = 0; i < 150; ++i) b.add_count(9, (old + i * 1000) / kMin, state::tally_kind::clicks, 1);
  REQUIRE_FALSE(f.store->write(b, true));
  const auto before = f.lg->segments(0).size();
  REQUIRE(before >= 3);
  // As if an earlier reconciliation had covered them all: retention may go.
  f.lg->set_delete_floor(0, f.lg->durable_end(0));
  retention_mid_read racing(*f.lg);
  recon::reconciler rec(racing, *f.store, f.options());
  auto r = rec.run_now(old - kHour, f.now_ms, recon::trigger::api);
  REQUIRE(r);
  INFO(recon::to_json(*r));
  CHECK(r->state == recon::run_state::done);
  CHECK(r->rows_corrected == 0);
  CHECK(r->clicks_counted == 150);
  std::uint64_t total = 0;
  for (const auto& [m, v] : f.counts(9)) total += v;
  CHECK(total == 150);
  CHECK(f.lg->segments(0).size() == before);  // pinned while it ran
  f.lg->enforce_retention();
  CHECK(f.lg->segments(0).size() < before);  // and deleted after
}
