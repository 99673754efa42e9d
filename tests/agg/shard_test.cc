#include <catch2/catch.hpp>
#include <initializer_list>
#include <map>
#include <mutex>
#include <thread>

#include "agg/aggregator.h"
#include "log/segmented_log.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;

namespace {

struct fixture {
  testutil::temp_dir dir;
  std::unique_ptr<log::segmented_log> lg;
  std::unique_ptr<state::store> store;
  std::int64_t now_ms = 1'800'000'000'000;

  fixture() { open(); }
  void open() {
    log::log_options o;
    o.dir = dir / "log";
    o.partitions = 4;
    log::recovery_report rep;
    std::string err;
    auto l = log::segmented_log::open(o, rep, err);
    REQUIRE(l);
    lg = std::move(*l);
    lg->start();
    auto s = state::store::open(dir / "state", err);
    REQUIRE(s);
    store = std::move(*s);
  }
  void close() {
    lg->stop();
    lg.reset();
    store.reset();
  }
  agg::shard_options options() {
    agg::shard_options o;
    o.flush_interval = std::chrono::milliseconds(20);
    o.allowed_lateness = std::chrono::seconds(60);
    o.max_out_of_orderness = std::chrono::seconds(5);
    o.now_ms = [this] { return now_ms; };
    return o;
  }
  void click(std::uint64_t ad, std::int64_t event_ms, const std::string& imp) {
    click_record r;
    r.event_time_ms = event_ms;
    r.ad_id = ad;
    r.expires_at_s = event_ms / 1000 + 3600;
    r.key_id = "k1";
    r.impression_id = imp;
    REQUIRE(lg->append_and_wait(static_cast<log::partition_id>(ad % 4), r));
  }
  std::map<std::pair<std::int64_t, state::tally_kind>, std::uint64_t> rows(std::uint64_t ad) {
    std::map<std::pair<std::int64_t, state::tally_kind>, std::uint64_t> out;
    REQUIRE_FALSE(store->scan_counts(ad, 0, INT64_MAX / 120, [&](std::int64_t m, state::tally_kind k, std::uint64_t v) {
      out[{m, k}] = v;
    }));
    return out;
  }
};

}  // namespace

TEST_CASE("clicks land in their event-time minute, exactly once across restarts", "[agg]") {
  fixture f;
  const std::int64_t t = f.now_ms;
  const std::int64_t m = t / 60000;
  // Minutes-old clicks (within the allowed lateness relative to each other).
  f.click(5, t - 50'000, "a");
  f.click(5, t - 50'000 + 1, "b");
  f.click(5, t, "c");
  f.click(6, t, "d");
  {
    agg::aggregator a(*f.lg, *f.store, 2, f.options(), nullptr);
    auto rec = a.recover();
    REQUIRE(rec);
    CHECK(rec->records_replayed == 4);
  }
  // Each click in the minute of its own event time.
  const auto clicks_by_minute = [&](std::uint64_t ad) {
    std::map<std::int64_t, std::uint64_t> out;
    for (const auto& [k, v] : f.rows(ad)) {
      if (k.second == state::tally_kind::clicks) out[k.first] = v;
    }
    return out;
  };
  const auto minutes_of = [](std::initializer_list<std::int64_t> times) {
    std::map<std::int64_t, std::uint64_t> out;
    for (auto ms : times) ++out[ms / 60000];
    return out;
  };
  CHECK(clicks_by_minute(5) == minutes_of({t - 50'000, t - 50'000 + 1, t}));
  CHECK(f.rows(6)[{m, state::tally_kind::clicks}] == 1);
  // The dedup keys are committed with the counts.
  auto d = f.store->get_dedup(5, "b");
  REQUIRE(d);
  CHECK(d->has_value());

  SECTION("a restart replays nothing twice") {
    f.click(5, t + 1000, "e");
    f.close();
    f.open();
    agg::aggregator again(*f.lg, *f.store, 2, f.options(), nullptr);
    auto rec = again.recover();
    REQUIRE(rec);
    CHECK(rec->records_replayed == 1);  // only the one not committed before
    auto rows = f.rows(5);
    std::uint64_t total = 0;
    for (const auto& [k, v] : rows) {
      if (k.second == state::tally_kind::clicks) total += v;
    }
    CHECK(total == 4);
  }
  SECTION("a running shard applies new clicks and tells the dedup hand-off") {
    std::map<log::partition_id, log::offset_t> committed;
    std::mutex mu;
    agg::aggregator live(*f.lg, *f.store, 2, f.options(), [&](log::partition_id p, log::offset_t end) {
      std::lock_guard lk(mu);
      committed[p] = end;
    });
    REQUIRE(live.recover());
    live.start();
    f.click(5, t + 2000, "f");
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lk(mu);
        if (committed[1] == 4) break;  // ad 5 -> partition 1: a, b, c, f
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    live.stop();
    std::lock_guard lk(mu);
    CHECK(committed[1] == 4);
    CHECK(clicks_by_minute(5) == minutes_of({t - 50'000, t - 50'000 + 1, t, t + 2000}));
  }
}

TEST_CASE("a click later than the allowed lateness is tallied late, not counted", "[agg]") {
  fixture f;
  const std::int64_t t = f.now_ms;
  f.click(9, t, "now");
  f.click(9, t - 10 * 60'000, "ten-minutes-old");  // appended after a newer click
  agg::aggregator a(*f.lg, *f.store, 1, f.options(), nullptr);
  REQUIRE(a.recover());
  auto rows = f.rows(9);
  CHECK(rows[{t / 60000, state::tally_kind::clicks}] == 1);
  CHECK(rows[{(t - 10 * 60'000) / 60000, state::tally_kind::late}] == 1);
  CHECK(rows.count({(t - 10 * 60'000) / 60000, state::tally_kind::clicks}) == 0);
  CHECK(a.status()[0].late_records == 1);
}

TEST_CASE("an idle shard's watermark follows the clock once caught up", "[agg]") {
  fixture f;
  agg::aggregator a(*f.lg, *f.store, 2, f.options(), nullptr);
  REQUIRE(a.recover());
  a.start();
  for (int i = 0; i < 500 && a.final_through_ms() < f.now_ms - 5000 - 60000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(a.final_through_ms() == f.now_ms - 5000 - 60000);
  a.stop();
  // And it is committed, for the query side.
  auto wm = f.store->get_watermark(1);
  REQUIRE(wm);
  CHECK(*wm == std::optional<std::int64_t>(f.now_ms - 5000));
}
