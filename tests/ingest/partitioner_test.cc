#include <catch2/catch.hpp>
#include <set>

#include "ingest/partitioner.h"

using namespace adclick::ingest;

TEST_CASE("an ordinary ad keeps one partition", "[ingest]") {
  partitioner p(8, 1000, 4, {});
  std::set<std::uint32_t> used;
  for (int i = 0; i < 500; ++i) used.insert(p.partition_for(7, "imp-" + std::to_string(i), 1'000'000));
  CHECK(used.size() == 1);
  CHECK(*used.begin() == p.partition_of(7, 0));
}

TEST_CASE("a hot ad spreads over fanout partitions, and duplicates meet in one", "[ingest]") {
  partitioner p(16, 100, 4, {});
  std::int64_t t = 5'000'000;
  // Second 1: 200 clicks make the ad hot for the next second.
  for (int i = 0; i < 200; ++i) (void)p.partition_for(9, "warm-" + std::to_string(i), t);
  t += 1000;
  std::set<std::uint32_t> used;
  for (int i = 0; i < 400; ++i) used.insert(p.partition_for(9, "imp-" + std::to_string(i), t));
  CHECK(used.size() > 1);
  CHECK(used.size() <= 4);
  CHECK(p.is_hot(9, t));
  CHECK_FALSE(p.is_hot(10, t));
  // The same impression always lands in the same partition.
  CHECK(p.partition_for(9, "imp-1", t) == p.partition_for(9, "imp-1", t));
  auto hot = p.hot_ads(t);
  REQUIRE(hot.size() == 1);
  CHECK(hot[0].ad_id == 9);
  CHECK(hot[0].clicks_per_second >= 200);
  // Two quiet seconds later it is cold again.
  t += 2000;
  std::set<std::uint32_t> later;
  for (int i = 0; i < 50; ++i) later.insert(p.partition_for(9, "late-" + std::to_string(i), t));
  CHECK(later.size() == 1);
}

TEST_CASE("configured hot ads are always salted", "[ingest]") {
  partitioner p(8, 1'000'000, 8, {3});
  std::set<std::uint32_t> used;
  for (int i = 0; i < 200; ++i) used.insert(p.partition_for(3, "imp-" + std::to_string(i), 1000));
  CHECK(used.size() > 2);
  CHECK(p.is_hot(3, 1000));
}
