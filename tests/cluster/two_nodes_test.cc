// Two adclick nodes, each doing every role, over one topic of `adclick
// kafka-mock` (a third process): they share the partitions through the
// consumer group, publish what they count to the counts topic and each
// materializes the other's. Copies of an impression taken by both front
// ends are counted once, and neither a SIGKILLed node, a broker going down
// nor a leader change loses or doubles a click.

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "cluster/cluster_util.h"
#include "testutil/click_server.h"
#include "testutil/http_client.h"
#include "testutil/temp_dir.h"

namespace {

using namespace adclick;
using namespace adclick::testutil;
using namespace std::chrono_literals;

std::string node_config(const std::string& servers, const std::string& id) {
  return "[log]\nbackend = \"kafka\"\npartitions = " + std::to_string(kPartitions) +
         "\nappend_timeout = \"2s\"\n\n[aggregation]\nflush_interval = \"250ms\"\n\n"
         "[kafka]\nbootstrap_servers = \"" + servers +
         "\"\n\n[kafka.properties]\n\"session.timeout.ms\" = \"3000\"\n\n[node]\nid = \"" + id + "\"\n";
}

// A node in its own directory.
struct node {
  node(const std::string& root, const std::string& servers, const std::string& id)
      : dir(make_dir(root + "/" + id)), server(dir, node_config(servers, id)) {}
  static std::string make_dir(const std::string& d) {
    std::filesystem::create_directories(d);
    return d;
  }
  std::string dir;
  click_server server;
};

void register_ads(click_server& s) {
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(2, "adv-2", kUrl) == 201);
}

// Impressions are "<anything>-<i>": ad 1 + i % 2.
std::uint64_t ad_of(const std::string& imp) {
  return 1 + static_cast<std::uint64_t>(std::stoll(imp.substr(imp.rfind('-') + 1)) % 2);
}

// Distinct impressions per ad in the topic: what must be counted.
std::map<std::uint64_t, long long> distinct_per_ad(const std::map<std::string, int>& logged) {
  std::map<std::uint64_t, long long> want{{1, 0}, {2, 0}};
  for (const auto& [imp, n] : logged) want[ad_of(imp)] += 1;
  return want;
}

// Clicks with fresh impressions (with `copies`, every fifth one also sent to
// the other node) on the nodes in `targets`, until stopped. Records the
// impressions that got a 302.
struct load {
  load(std::vector<click_server*> targets, const std::string& tag, bool copies = true) {
    for (std::size_t t = 0; t < 2; ++t) {
      threads.emplace_back([this, targets, tag, t, copies] {
        for (int i = 0; !stop; ++i) {
          const std::string imp = tag + "-t" + std::to_string(t) + "-" + std::to_string(i);
          auto* s = targets[static_cast<std::size_t>(i) % targets.size()];
          if (s->click(ad_of(imp), imp).status == 302) {
            std::lock_guard lk(mu);
            redirected.insert(imp);
          }
          if (copies && i % 5 == 0 && targets.size() > 1) {
            (void)targets[(static_cast<std::size_t>(i) + 1) % targets.size()]->click(ad_of(imp), imp);
          }
        }
      });
    }
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~load() {
    if (!threads.empty()) finish();
  }
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> redirected;
  std::vector<std::thread> threads;
};

// The mock cluster and two nodes, both with the test ads, both ready.
struct two_nodes {
  two_nodes() : mock(dir.path()), a(dir.path(), mock.servers, "node-a"), b(dir.path(), mock.servers, "node-b") {
    register_ads(a.server);
    register_ads(b.server);
    REQUIRE(wait_ready(a.server.port(), true, 30s));
    REQUIRE(wait_ready(b.server.port(), true, 30s));
  }
  std::tuple<mock_cluster_process&, node&, node&> parts() { return {mock, a, b}; }
  temp_dir dir;
  mock_cluster_process mock;
  node a;
  node b;
};

}  // namespace

TEST_CASE("two nodes on Kafka: copies of one impression sent to both front ends are counted once, on both",
          "[cluster]") {
  two_nodes c;
  auto [mock, a, b] = c.parts();

  constexpr int kClicks = 200;
  for (int i = 0; i < kClicks; ++i) {
    const std::string imp = "copy-" + std::to_string(i);
    REQUIRE(a.server.click(ad_of(imp), imp).status == 302);
    REQUIRE(b.server.click(ad_of(imp), imp).status == 302);
  }
  // Where the other node aggregates the partition, the second front end has
  // not seen the impression, so both logged it and the aggregator decided
  // (where the second front end aggregates it, it may have counted it
  // already and answered the copy a duplicate itself).
  const auto logged = impressions_in_topic(mock.servers);
  std::size_t twice = 0;
  for (const auto& [imp, n] : logged) twice += n == 2 ? 1 : 0;
  CHECK(logged.size() == kClicks);
  CHECK(twice > kClicks / 4);
  for (auto* s : {&a.server, &b.server}) {
    CHECK(s->wait_counted_total(1, kClicks / 2) == kClicks / 2);
    CHECK(s->wait_counted_total(2, kClicks / 2) == kClicks / 2);
  }
  // Retries later, on either front end, are dropped where the partition is
  // aggregated (a front end lets go of the keys of partitions it does not
  // aggregate within a second): one new click, and each total moves by it.
  for (int i = 0; i < 10; ++i) {
    const std::string imp = "copy-" + std::to_string(i);
    REQUIRE(a.server.click(ad_of(imp), imp).status == 302);
    REQUIRE(b.server.click(ad_of(imp), imp).status == 302);
  }
  REQUIRE(a.server.click(1, "later-0").status == 302);
  for (auto* s : {&a.server, &b.server}) {
    CHECK(s->wait_counted_total(1, kClicks / 2 + 1) == kClicks / 2 + 1);
    CHECK(s->counted_total(2) == kClicks / 2);
    // Every copy is tallied a duplicate once, by a front end (its own
    // retry) or by an aggregator, and every node shows the tallies of all.
    CHECK(wait_aggregates_field(*s, 1, "duplicate", kClicks / 2 + 10) == kClicks / 2 + 10);
    CHECK(wait_aggregates_field(*s, 2, "duplicate", kClicks / 2 + 10) == kClicks / 2 + 10);
  }
}

TEST_CASE("two nodes on Kafka: a node SIGKILLed under load, its partitions taken over, counts exact on both",
          "[cluster]") {
  two_nodes c;
  auto [mock, a, b] = c.parts();

  std::set<std::string> redirected;
  {
    load both({&a.server, &b.server}, "kill");
    std::this_thread::sleep_for(1500ms);
    a.server.kill();
    both.finish();
    redirected = both.redirected;
  }
  {
    // B alone, while the group still waits for A's session to time out and
    // then gives B every partition.
    load alone({&b.server}, "alone");
    std::this_thread::sleep_for(5s);
    alone.finish();
    redirected.insert(alone.redirected.begin(), alone.redirected.end());
  }
  INFO(redirected.size() << " clicks redirected");
  REQUIRE(redirected.size() > 100);

  const auto logged = impressions_in_topic(mock.servers);
  std::size_t missing = 0;
  for (const auto& imp : redirected) missing += logged.count(imp) == 0 ? 1 : 0;
  CHECK(missing == 0);
  const auto want = distinct_per_ad(logged);
  CHECK(b.server.wait_counted_total(1, want.at(1)) == want.at(1));
  CHECK(b.server.wait_counted_total(2, want.at(2)) == want.at(2));

  // A comes back: it rejoins, the group shares the partitions again, and A
  // answers the same counts (its own and what it materialized).
  a.server.restart();
  REQUIRE(a.server.ready());
  REQUIRE(wait_ready(a.server.port(), true, 30s));
  for (int i = 0; i < 20; ++i) {
    const std::string imp = "back-" + std::to_string(i);
    REQUIRE(a.server.click(ad_of(imp), imp).status == 302);
  }
  for (auto* s : {&a.server, &b.server}) {
    CHECK(s->wait_counted_total(1, want.at(1) + 10) == want.at(1) + 10);
    CHECK(s->wait_counted_total(2, want.at(2) + 10) == want.at(2) + 10);
  }
}

TEST_CASE("two nodes on Kafka: a broker down and up and a leader change under load lose and double nothing",
          "[cluster]") {
  two_nodes c;
  auto [mock, a, b] = c.parts();

  std::set<std::string> redirected;
  {
    load both({&a.server, &b.server}, "faults", /*copies=*/false);
    std::this_thread::sleep_for(500ms);
    mock.command("leader clicks 0 2");
    mock.command("leader adclick-counts 0 3");
    std::this_thread::sleep_for(500ms);
    mock.command("down 1");
    std::this_thread::sleep_for(1500ms);
    mock.command("up 1");
    std::this_thread::sleep_for(1000ms);
    both.finish();
    redirected = both.redirected;
  }
  const auto logged = impressions_in_topic(mock.servers);
  // Every click answered `counted` is in the topic (those answered
  // `unrecorded` while a leader was away may be there too).
  const double counted =
      a.server.metric("adclick_clicks_total{outcome=\"counted\"}") + b.server.metric("adclick_clicks_total{outcome=\"counted\"}");
  INFO(redirected.size() << " clicks redirected, " << counted << " answered counted, " << logged.size()
                         << " in the topic");
  REQUIRE(counted > 100);
  CHECK(static_cast<double>(logged.size()) >= counted);
  std::size_t twice = 0;
  for (const auto& [imp, n] : logged) twice += n != 1 ? 1 : 0;
  CHECK(twice == 0);
  const auto want = distinct_per_ad(logged);
  for (auto* s : {&a.server, &b.server}) {
    CHECK(s->wait_counted_total(1, want.at(1)) == want.at(1));
    CHECK(s->wait_counted_total(2, want.at(2)) == want.at(2));
  }
}

TEST_CASE("two nodes on Kafka: a node restarted with its data dir wiped rebuilds its counts and dedup keys",
          "[cluster]") {
  two_nodes c;
  auto [mock, a, b] = c.parts();
  for (int i = 0; i < 100; ++i) {
    const std::string imp = "wipe-" + std::to_string(i);
    REQUIRE((i % 2 ? a : b).server.click(ad_of(imp), imp).status == 302);
  }
  CHECK(a.server.wait_counted_total(1, 50) == 50);
  CHECK(b.server.wait_counted_total(1, 50) == 50);

  REQUIRE(b.server.stop() == 0);
  std::filesystem::remove_all(b.dir + "/data");
  b.server.restart();
  register_ads(b.server);
  REQUIRE(wait_ready(b.server.port(), true, 30s));
  CHECK(b.server.wait_counted_total(1, 50) == 50);
  CHECK(b.server.wait_counted_total(2, 50) == 50);
  // Copies of clicks counted before the loss, sent to B now: dropped by
  // whichever node aggregates their partitions, B's restored keys included.
  for (int i = 0; i < 100; ++i) {
    const std::string imp = "wipe-" + std::to_string(i);
    REQUIRE(b.server.click(ad_of(imp), imp).status == 302);
  }
  for (int i = 0; i < 10; ++i) {
    const std::string imp = "new-" + std::to_string(i);
    REQUIRE(b.server.click(ad_of(imp), imp).status == 302);
  }
  for (auto* s : {&a.server, &b.server}) {
    CHECK(s->wait_counted_total(1, 55) == 55);
    CHECK(s->wait_counted_total(2, 55) == 55);
  }
}
