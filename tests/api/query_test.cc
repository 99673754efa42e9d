// The aggregates API and exactly-once counting, against the real binary.

#include <catch2/catch.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "log/segmented_log.h"
#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::testutil;

namespace {

constexpr const char* kUrl = "https://shop.example.com/";
const std::string kAdv1 = "Authorization: Bearer test-key-for-adv-1-xyz\r\n";
const std::string kAdv2 = "Authorization: Bearer test-key-for-adv-2-xyz\r\n";
const std::string kAdmin = std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n";

std::string range(std::int64_t from, std::int64_t to) {
  return "from=" + std::to_string(from) + "&to=" + std::to_string(to);
}

// "total":N from a JSON body.
long long json_total(const std::string& body) {
  const auto p = body.find("\"total\":");
  if (p == std::string::npos) return -1;
  return std::stoll(body.substr(p + 8));
}

// Waits until the total over the range reaches `want` (the speed layer
// flushes every flush_interval); returns the last total seen.
long long wait_total(click_server& s, std::uint64_t ad, std::int64_t from, std::int64_t to,
                     long long want, const std::string& auth = kAdmin) {
  long long t = -1;
  for (int i = 0; i < 300; ++i) {
    const auto r = http_get(s.port(), "/api/v1/ads/" + std::to_string(ad) + "/aggregates?" + range(from, to), auth);
    t = json_total(r.body);
    if (t >= want) return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return t;
}

std::string config_extra() {
  return "[aggregation]\nflush_interval = \"100ms\"\n";
}

}  // namespace

TEST_CASE("the aggregates API: counts, granularities, CSV, validation, isolation", "[api]") {
  temp_dir dir;
  click_server s(dir.path(), config_extra() + "[query]\nmax_points = 2000\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(2, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(3, "adv-2", kUrl) == 201);
  for (int i = 0; i < 5; ++i) REQUIRE(s.click(1, "one-" + std::to_string(i)).status == 302);
  for (int i = 0; i < 2; ++i) REQUIRE(s.click(2, "two-" + std::to_string(i)).status == 302);
  REQUIRE(s.click(3, "three").status == 302);
  REQUIRE(s.click(1, "one-0").status == 302);  // a duplicate
  const std::int64_t now = unix_now_s();
  const std::int64_t from = now - 3600, to = now + 120;
  // Each ad's partition belongs to one of two shards, which flush on their own.
  REQUIRE(wait_total(s, 1, from, to, 5, kAdv1) == 5);
  REQUIRE(wait_total(s, 2, from, to, 2, kAdv1) == 2);
  REQUIRE(wait_total(s, 3, from, to, 1, kAdmin) == 1);

  SECTION("minute, hour and day agree; buckets are aligned and zero-filled") {
    for (const char* g : {"minute", "hour", "day"}) {
      const auto r = http_get(s.port(), "/api/v1/ads/1/aggregates?" + range(from, to) + "&granularity=" + g, kAdv1);
      INFO(g << ": " << r.body);
      CHECK(r.status == 200);
      CHECK(json_total(r.body) == 5);
      CHECK_THAT(r.body, Catch::Contains(std::string("\"granularity\":\"") + g + "\""));
    }
    // The outcome tallies reach RocksDB about once a second.
    http_response m;
    for (int i = 0; i < 150; ++i) {
      m = http_get(s.port(), "/api/v1/ads/1/aggregates?" + range(from, to), kAdv1);
      if (m.body.find("\"duplicate\":1") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK_THAT(m.body, Catch::Contains(":00Z\",\"clicks\":0,\"state\":\"") &&
                           Catch::Contains("\"duplicate\":1") && Catch::Contains("\"finalThrough\":"));
    // RFC 3339 input too.
    const auto rfc = http_get(s.port(), "/api/v1/ads/1/aggregates?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z&granularity=hour", kAdv1);
    CHECK(rfc.status == 200);
    CHECK(json_total(rfc.body) == 0);
    CHECK_THAT(rfc.body, Catch::Contains("\"hour\":\"2020-01-01T00:00:00Z\""));
  }
  SECTION("CSV by Accept header or format parameter") {
    const auto a = http_get(s.port(), "/api/v1/ads/2/aggregates?" + range(from, to) + "&granularity=hour",
                            kAdv1 + "Accept: text/csv\r\n");
    CHECK(a.status == 200);
    CHECK_THAT(a.headers.at("content-type"), Catch::StartsWith("text/csv"));
    CHECK_THAT(a.body, Catch::StartsWith("hour,clicks,state\n"));
    const auto b = http_get(s.port(), "/api/v1/ads/2/aggregates?" + range(from, to) + "&format=csv", kAdv1);
    CHECK_THAT(b.body, Catch::StartsWith("minute,clicks,state\n"));
    std::size_t sum = 0;
    std::size_t pos = 0;
    while ((pos = b.body.find("Z,", pos)) != std::string::npos) {
      sum += std::stoul(b.body.substr(pos + 2));
      pos += 2;
    }
    CHECK(sum == 2);
  }
  SECTION("validation errors are 400 JSON") {
    for (const std::string& q :
         {std::string("to=") + std::to_string(to), "from=" + std::to_string(from),
          "from=yesterday&to=" + std::to_string(to), "from=" + std::to_string(to) + "&to=" + std::to_string(from),
          range(from, from), range(from, to) + "&granularity=week", range(from, to) + "&format=xml",
          range(now - 86400 * 3, now)}) {  // 4320 minutes > max_points 2000
      INFO(q);
      const auto r = http_get(s.port(), "/api/v1/ads/1/aggregates?" + q, kAdv1);
      CHECK(r.status == 400);
      CHECK_THAT(r.body, Catch::StartsWith("{\"error\":{\"code\":"));
    }
  }
  SECTION("advertisers see only their own ads; the admin sees all") {
    const auto unknown = http_get(s.port(), "/api/v1/ads/99/aggregates?" + range(from, to), kAdv1);
    const auto other = http_get(s.port(), "/api/v1/ads/3/aggregates?" + range(from, to), kAdv1);
    CHECK(unknown.status == 404);
    CHECK(other.status == 404);
    CHECK(other.body == unknown.body);
    CHECK(http_get(s.port(), "/api/v1/ads/3/aggregates?" + range(from, to)).status == 401);
    CHECK(http_get(s.port(), "/api/v1/ads/3/aggregates?" + range(from, to), "Authorization: Bearer wrong-key-0123456789\r\n").status == 401);
    CHECK(wait_total(s, 3, from, to, 1, kAdmin) == 1);
  }
  SECTION("per-advertiser totals, sorted by clicks, paged") {
    const auto p1 = http_get(s.port(), "/api/v1/advertisers/adv-1/ads/aggregates?" + range(from, to) + "&limit=1", kAdv1);
    CHECK(p1.status == 200);
    CHECK_THAT(p1.body, Catch::Contains("\"ads\":[{\"adId\":1,\"clicks\":5}]") && Catch::Contains("\"next\":\"5_1\"") &&
                            Catch::Contains("\"total\":7"));
    const auto p2 = http_get(s.port(), "/api/v1/advertisers/adv-1/ads/aggregates?" + range(from, to) + "&limit=1&after=5_1", kAdv1);
    CHECK_THAT(p2.body, Catch::Contains("\"ads\":[{\"adId\":2,\"clicks\":2}]") && !Catch::Contains("\"next\""));
    CHECK(http_get(s.port(), "/api/v1/advertisers/adv-2/ads/aggregates?" + range(from, to), kAdv1).status == 404);
    CHECK(http_get(s.port(), "/api/v1/advertisers/adv-2/ads/aggregates?" + range(from, to), kAdmin).status == 200);
  }
}

TEST_CASE("exactly-once under SIGKILL: every 302'd click counted, none twice", "[api][crash]") {
  temp_dir dir;
  // Short flushes so that kills often land during one.
  click_server s(dir.path(), "[log]\npartitions = 4\n[aggregation]\nflush_interval = \"50ms\"\n");
  REQUIRE(s.ready());
  for (std::uint64_t ad = 1; ad <= 3; ++ad) REQUIRE(s.register_ad(ad, "adv-1", kUrl) == 201);
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acked;
  std::mutex mu;
  for (int round = 0; round < 5; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::uint64_t ad = 1 + static_cast<std::uint64_t>(i % 3);
          const std::string imp = "r" + std::to_string(round) + "t" + std::to_string(t) + "i" + std::to_string(i);
          if (s.click(ad, imp).status == 302) {
            std::lock_guard lk(mu);
            acked.insert(std::to_string(ad) + "/" + imp);
          }
          // Retry an acknowledged click now and then: never counted twice.
          if (i % 5 == 0) (void)s.click(ad, imp);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 500)(rng)));
    s.kill();
    stop = true;
    for (auto& t : ts) t.join();
    s.restart();
    REQUIRE(s.ready());
  }
  // Also retry every acknowledged click once more after the last restart.
  std::size_t n = 0;
  for (const auto& key : acked) {
    if (++n % 10 != 0) continue;
    const auto slash = key.find('/');
    REQUIRE(s.click(std::stoull(key.substr(0, slash)), key.substr(slash + 1)).status == 302);
  }
  const std::int64_t now = unix_now_s();
  long long counted = 0;
  for (std::uint64_t ad = 1; ad <= 3; ++ad) {
    std::size_t acked_for_ad = 0;
    for (const auto& k : acked) acked_for_ad += k.rfind(std::to_string(ad) + "/", 0) == 0;
    counted += wait_total(s, ad, now - 3600, now + 120, static_cast<long long>(acked_for_ad));
  }
  REQUIRE(s.stop() == 0);
  // The log holds each click once; the counts hold each logged click once.
  log::log_options o;
  o.dir = dir.path() + "/data/log";
  o.partitions = 4;
  log::recovery_report rep;
  std::string err;
  auto lg = log::segmented_log::open(o, rep, err);
  REQUIRE(lg);
  std::map<std::string, int> logged;
  for (log::partition_id p = 0; p < 4; ++p) {
    auto r = (*lg)->open_reader(p, 0);
    for (;;) {
      auto k = r->read(1000, [&](log::offset_t, const click_view& v) {
        ++logged[std::to_string(v.ad_id) + "/" + std::string(v.impression_id)];
      });
      if (!k || *k == 0) break;
    }
  }
  INFO(acked.size() << " acknowledged, " << logged.size() << " logged, " << counted << " counted");
  REQUIRE(acked.size() > 50);
  std::size_t missing = 0, twice = 0;
  for (const auto& a : acked) missing += logged.count(a) == 0;
  for (const auto& [k, c] : logged) twice += c != 1;
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(counted == static_cast<long long>(logged.size()));
}
