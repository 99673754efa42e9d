#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "ingest/ad_cache.h"
#include "ingest/ad_registry.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using ingest::ad_cache;

namespace {
ad_cache::entry_ptr ad(std::uint64_t id, const std::string& url) {
  return std::make_shared<const state::ad_record>(state::ad_record{id, "adv-1", url, false, 0});
}
}  // namespace

TEST_CASE("the ad cache stays within its byte budget and keeps the recently used", "[ingest]") {
  ad_cache cache(64 << 10, 4);
  for (std::uint64_t id = 1; id <= 10'000; ++id) {
    cache.put(id, ad(id, "https://example.com/landing?ad=" + std::to_string(id)));
    // Ad 1 is used all the time: it stays.
    REQUIRE(cache.get(1).has_value());
    REQUIRE(cache.bytes() <= cache.capacity_bytes());
  }
  CHECK(cache.entries() < 10'000);
  CHECK(cache.entries() > 100);
  CHECK(cache.get(10'000).has_value());
  CHECK_FALSE(cache.get(2).has_value());
  CHECK((*cache.get(1))->url == "https://example.com/landing?ad=1");
}

TEST_CASE("a full ad cache admits a read on its id's second miss, so one-time ids do not evict hot ones",
          "[ingest]") {
  ad_cache cache(64 << 10, 1);
  const auto fill = [&](std::uint64_t id) {
    std::uint64_t stamp = 0;
    if (cache.get(id, &stamp)) return;
    cache.fill(id, ad(id, "https://example.com/landing?ad=" + std::to_string(id)), stamp);
  };
  // Not full yet: every fill is cached.
  std::uint64_t hot = 0;
  while (cache.bytes() + 400 < cache.capacity_bytes()) fill(++hot);
  for (std::uint64_t id = 1; id <= hot; ++id) REQUIRE(cache.get(id).has_value());
  // Full: a stream of ids read once each leaves the hot ones in place.
  for (std::uint64_t id = 1'000'000; id < 1'020'000; ++id) fill(id);
  std::uint64_t kept = 0;
  for (std::uint64_t id = 1; id <= hot; ++id) kept += cache.get(id).has_value() ? 1 : 0;
  CHECK(kept >= hot - 2);
  CHECK_FALSE(cache.get(1'019'999).has_value());
  // An id read twice in a row is admitted on its second read.
  fill(5'000'000);
  CHECK_FALSE(cache.get(5'000'000).has_value());
  fill(5'000'000);
  CHECK(cache.get(5'000'000).has_value());
  CHECK(cache.bytes() <= cache.capacity_bytes());
}

TEST_CASE("the ad cache keeps unknown ids, and a read older than a write never replaces it", "[ingest]") {
  ad_cache cache(1 << 20);
  // A reader's stamp is handed out by its miss, before it reads RocksDB.
  const auto miss = [&](std::uint64_t id) {
    std::uint64_t stamp = 0;
    REQUIRE_FALSE(cache.get(id, &stamp).has_value());
    return stamp;
  };
  cache.fill(5, nullptr, miss(5));
  REQUIRE(cache.get(5).has_value());
  CHECK(*cache.get(5) == nullptr);

  // A reader misses and reads RocksDB (old value); a writer then writes and
  // updates the cache; the reader's fill must not win.
  const auto stamp = miss(7);
  cache.put(7, ad(7, "https://new.example/"));
  cache.fill(7, ad(7, "https://old.example/"), stamp);
  CHECK((*cache.get(7))->url == "https://new.example/");
  // Even when the writer's entry was dropped in between.
  const auto stamp2 = miss(8);
  cache.put(8, ad(8, "https://new.example/"));
  cache.erase(8);
  cache.fill(8, ad(8, "https://old.example/"), stamp2);
  CHECK_FALSE(cache.get(8).has_value());
  // With no write in between, the fill is cached.
  cache.fill(9, ad(9, "https://old.example/"), miss(9));
  CHECK((*cache.get(9))->url == "https://old.example/");
}

TEST_CASE("the registry answers every ad through a cache far smaller than the ads", "[ingest]") {
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  constexpr std::uint64_t kCache = 32 << 10;
  {
    ingest::ad_registry reg(**store, kCache);
    REQUIRE_FALSE(reg.load());
    std::vector<ingest::ad_row> rows;
    for (std::uint64_t id = 1; id <= 5'000; ++id) {
      rows.push_back({id, "adv-" + std::to_string(id % 7), "https://example.com/?ad=" + std::to_string(id)});
    }
    rows.push_back({3, "adv-x", "https://example.com/three-again"});  // a later row for the same id wins
    REQUIRE_FALSE(reg.put_batch(rows));
    CHECK(reg.size() == 5'000);
    for (std::uint64_t id = 1; id <= 5'000; ++id) {
      const auto a = reg.find(id);
      REQUIRE(a != nullptr);
      if (id != 3) REQUIRE(a->url == "https://example.com/?ad=" + std::to_string(id));
      REQUIRE(reg.cache().bytes() <= kCache);
    }
    CHECK(reg.find(3)->advertiser_id == "adv-x");
    CHECK(reg.find(99'999) == nullptr);
    // The advertiser index moved with the later row.
    auto listed = (*store)->list_ads("adv-x", 0, 10);
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().ad_id == 3);
    // A put after a cached lookup is what the next lookup sees.
    bool created = true;
    std::string why;
    REQUIRE(reg.put(42, "adv-1", "https://changed.example/", created, why));
    CHECK_FALSE(created);
    CHECK(reg.find(42)->url == "https://changed.example/");
    REQUIRE(reg.pause(42));
    CHECK(reg.find(42)->paused);
    REQUIRE(reg.put(6'000, "adv-1", "https://new.example/", created, why));
    CHECK(created);
    CHECK(reg.size() == 5'001);
  }
  ingest::ad_registry again(**store, kCache);
  REQUIRE_FALSE(again.load());
  CHECK(again.size() == 5'001);
  CHECK(again.find(42)->paused);
}

TEST_CASE("a CSV import of many rows goes in batches and counts each ad once", "[ingest]") {
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  ingest::ad_registry reg(**store, 1 << 20);
  REQUIRE_FALSE(reg.load());
  std::string csv = "adId,advertiserId,url\n";
  for (int id = 1; id <= 25'000; ++id) {
    csv += std::to_string(id) + ",adv-1,https://example.com/" + std::to_string(id) + "\n";
  }
  csv += "7,adv-2,https://example.com/seven\n";  // again, in a later batch
  csv += "25001,adv 1,https://example.com/bad\n";
  const auto rep = ingest::import_ads_csv(reg, csv);
  CHECK(rep.imported == 25'001);
  REQUIRE(rep.errors.size() == 1);
  CHECK_THAT(rep.errors[0], Catch::StartsWith("line 25003:"));
  CHECK(reg.size() == 25'000);
  CHECK(reg.find(7)->advertiser_id == "adv-2");
  CHECK(reg.find(25'000)->url == "https://example.com/25000");
}
