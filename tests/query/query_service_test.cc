#include <catch2/catch.hpp>

#include "query/query_service.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::query;

TEST_CASE("series: dense, aligned, and minute, hour and day agree", "[query]") {
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  const std::int64_t day0 = 1800000000 / 86400 * 86400;  // a UTC midnight
  state::write_batch b;
  // Clicks in minutes 0, 59, 60 and 1441 after midnight; tallies too.
  b.add_count(7, day0 / 60 + 0, state::tally_kind::clicks, 5);
  b.add_count(7, day0 / 60 + 59, state::tally_kind::clicks, 2);
  b.add_count(7, day0 / 60 + 60, state::tally_kind::clicks, 3);
  b.add_count(7, day0 / 60 + 1441, state::tally_kind::clicks, 11);
  b.add_count(7, day0 / 60 + 1, state::tally_kind::duplicate, 4);
  b.add_count(7, day0 / 60 + 1, state::tally_kind::late, 1);
  b.add_count(8, day0 / 60 + 1, state::tally_kind::clicks, 100);  // another ad
  REQUIRE_FALSE((*store)->write(b, true));
  query_service q(**store, query_options{100000, 1, 60000});

  auto minute = q.ad_series(7, day0, day0 + 2 * 86400, granularity::minute);
  auto hour = q.ad_series(7, day0, day0 + 2 * 86400, granularity::hour);
  auto day = q.ad_series(7, day0, day0 + 2 * 86400, granularity::day);
  REQUIRE(minute);
  REQUIRE(hour);
  REQUIRE(day);
  CHECK(minute->points.size() == 2 * 1440);
  CHECK(hour->points.size() == 48);
  CHECK(day->points.size() == 2);
  CHECK(minute->total == 21);
  CHECK(hour->total == 21);
  CHECK(day->total == 21);
  CHECK(minute->points[0].clicks == 5);
  CHECK(minute->points[1].clicks == 0);  // zero-filled
  CHECK(minute->points[59].clicks == 2);
  CHECK(hour->points[0].clicks == 7);
  CHECK(hour->points[1].clicks == 3);
  CHECK(hour->points[24].clicks == 11);
  CHECK(day->points[0].clicks == 10);
  CHECK(day->points[1].clicks == 11);
  CHECK(day->points[1].start_s == day0 + 86400);
  CHECK(minute->invalid.duplicate == 4);
  CHECK(minute->invalid.late == 1);

  SECTION("half-open ranges and unaligned edges") {
    auto r = q.ad_series(7, day0 + 59 * 60, day0 + 60 * 60, granularity::minute);
    REQUIRE(r);
    REQUIRE(r->points.size() == 1);
    CHECK(r->total == 2);
    // An hour bucket that only partly overlaps the range is reported whole-aligned.
    auto h = q.ad_series(7, day0 + 30 * 60, day0 + 90 * 60, granularity::hour);
    REQUIRE(h);
    REQUIRE(h->points.size() == 2);
    CHECK(h->points[0].start_s == day0);
    CHECK(h->total == 5);  // minutes 59 and 60
  }
  SECTION("bad ranges and too many points") {
    CHECK(q.ad_series(7, day0, day0, granularity::minute).error() == query_errc::bad_range);
    CHECK(q.ad_series(7, day0 + 1, day0, granularity::minute).error() == query_errc::bad_range);
    query_service small(**store, query_options{10, 1, 60000});
    CHECK(small.ad_series(7, day0, day0 + 3600, granularity::minute).error() == query_errc::too_many_points);
    CHECK(small.ad_series(7, day0, day0 + 3600, granularity::hour));
  }
  SECTION("point states follow the committed shard watermarks") {
    CHECK_FALSE(minute->final_through_s.has_value());
    CHECK(minute->points[0].state == point_state::provisional);
    state::write_batch w;
    w.put_watermark(0, (day0 + 3600) * 1000 + 60000);  // minus 60 s lateness: final through day0+1h
    REQUIRE_FALSE((*store)->write(w, true));
    auto again = q.ad_series(7, day0, day0 + 2 * 3600, granularity::minute);
    REQUIRE(again);
    REQUIRE(again->final_through_s);
    CHECK(*again->final_through_s == day0 + 3600);
    CHECK(again->points[59].state == point_state::final_);
    CHECK(again->points[60].state == point_state::provisional);
    // With two shards, the lower watermark decides; a missing one means none.
    query_service two(**store, query_options{100000, 2, 60000});
    CHECK_FALSE(two.final_through_s().has_value());
  }
}
