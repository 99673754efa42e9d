// One adclick node doing every role over a topic of `adclick kafka-mock`
// (another process): the click path produces to the topic, the shards tail
// it, and the counts survive SIGKILL and a lost data dir.

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "cluster/cluster_util.h"
#include "testutil/doc_metrics.h"
#include "testutil/click_server.h"
#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/promtool.h"
#include "testutil/temp_dir.h"

namespace {

using namespace adclick;
using namespace adclick::testutil;
using namespace std::chrono_literals;

std::string node_config(const std::string& servers, const std::string& more = "") {
  return "[log]\nbackend = \"kafka\"\npartitions = " + std::to_string(kPartitions) + "\n" + more +
         "\n[kafka]\nbootstrap_servers = \"" + servers + "\"\n\n[node]\nid = \"node-1\"\n";
}

}  // namespace

TEST_CASE("one node on Kafka: every 302'd click counted once through SIGKILLs and a wiped data dir", "[cluster]") {
  temp_dir dir;
  mock_cluster_process mock(dir.path());
  click_server s(dir.path(), node_config(mock.servers));
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(2, "adv-2", kUrl) == 201);

  std::set<std::string> redirected;
  std::atomic<int> duplicates_redirected{0};
  for (int round = 0; round < 3; ++round) {
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::string imp = "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" + std::to_string(i);
          const auto ad = 1 + static_cast<std::uint64_t>(i % 2);
          if (s.click(ad, imp).status != 302) continue;
          {
            std::lock_guard lk(mu);
            redirected.insert(imp);
          }
          // A retry of an acknowledged click: a duplicate, never counted.
          if (i % 5 == 0 && s.click(ad, imp).status == 302) ++duplicates_redirected;
        }
      });
    }
    std::this_thread::sleep_for(700ms);
    s.kill();
    stop = true;
    for (auto& t : ts) t.join();
    s.restart();
    REQUIRE(s.ready());
  }
  INFO(redirected.size() << " clicks redirected, " << duplicates_redirected << " retries");
  REQUIRE(redirected.size() > 50);
  CHECK(duplicates_redirected > 5);

  // Every 302'd click is in the topic exactly once (the copies a SIGKILL
  // cut short may be there too, once each), and the counts are the topic's.
  const auto logged = impressions_in_topic(mock.servers);
  std::size_t missing = 0;
  std::size_t twice = 0;
  for (const auto& imp : redirected) missing += logged.count(imp) == 0 ? 1 : 0;
  for (const auto& [imp, n] : logged) twice += n != 1 ? 1 : 0;
  CHECK(missing == 0);
  CHECK(twice == 0);
  long long want[3] = {0, 0, 0};
  for (const auto& [imp, n] : logged) {
    const auto dash = imp.rfind('-');
    want[1 + std::stoi(imp.substr(dash + 1)) % 2] += 1;
  }
  CHECK(s.wait_counted_total(1, want[1]) == want[1]);
  CHECK(s.wait_counted_total(2, want[2]) == want[2]);

  // The data dir lost: the node rebuilds the counts from the topic. The ads
  // are the node's own state (not in the topic): registered again.
  REQUIRE(s.stop() == 0);
  std::filesystem::remove_all(dir.path() + "/data");
  s.restart();
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(2, "adv-2", kUrl) == 201);
  CHECK(s.wait_counted_total(1, want[1]) == want[1]);
  CHECK(s.wait_counted_total(2, want[2]) == want[2]);
  // A click seen before the loss is still a duplicate: its dedup key came
  // back from the topic's records once the node took its partitions over
  // (then it says it is ready).
  CHECK(wait_ready(s.port(), true, 20s));
  const auto before = s.metric("adclick_clicks_total{outcome=\"duplicate\"}");
  REQUIRE(s.click(1, *redirected.begin()).status == 302);
  CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == before + 1);
  REQUIRE(s.stop() == 0);

  // The batch layer reads the topic too: an offline recount over the last
  // hour runs to completion (nothing of it is final yet, so it changes
  // nothing).
  const auto now = unix_now_s();
  const auto [code, text] = run({ADCLICK_BINARY, "reconcile", "--config", s.config_path(), "--from",
                                 std::to_string(now - 3600), "--to", std::to_string(now)});
  INFO(text);
  CHECK(code == 0);
  CHECK(text.find("\"state\":\"done\"") != std::string::npos);
}

TEST_CASE("one node on Kafka: without brokers it answers 302 unrecorded and is not ready, then recovers by itself",
          "[cluster]") {
  temp_dir dir;
  mock_cluster_process mock(dir.path());
  click_server s(dir.path(), node_config(mock.servers, "append_timeout = \"1s\"\n"));
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  for (int i = 0; i < 20; ++i) REQUIRE(s.click(1, "before-" + std::to_string(i)).status == 302);
  CHECK(s.wait_counted_total(1, 20) == 20);
  CHECK(wait_ready(s.port(), true, 5s));

  for (int b = 1; b <= 3; ++b) mock.command("down " + std::to_string(b));
  CHECK(wait_ready(s.port(), false, 10s));
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = s.click(1, "during-" + std::to_string(i));
    CHECK(r.status == 302);
    CHECK(r.headers.at("location") == kUrl);
    // Within log.append_timeout (1 s) and a margin: never a hang.
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  }
  CHECK(s.metric("adclick_clicks_total{outcome=\"unrecorded\"}") == 5);

  for (int b = 1; b <= 3; ++b) mock.command("up " + std::to_string(b));
  CHECK(wait_ready(s.port(), true, 20s));
  // Counting goes on; a click answered unrecorded counts when retried.
  bool counted = false;
  for (int attempt = 0; attempt < 100 && !counted; ++attempt) {
    (void)s.click(1, "after-0");
    counted = s.metric("adclick_clicks_total{outcome=\"counted\"}") == 21;
    if (!counted) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(counted);
  for (int i = 0; i < 5; ++i) REQUIRE(s.click(1, "during-" + std::to_string(i)).status == 302);
  CHECK(s.wait_counted_total(1, 26) == 26);

  // The Kafka backend's metrics that the docs name are on its /metrics.
  const auto named = metric_names_in_docs();
  CHECK(named.count("adclick_kafka_brokers_reachable") == 1);
  const auto m = http_get(s.port(), "/metrics");
  for (const auto& name : named) {
    if (!kafka_metric(name)) continue;
    INFO(name);
    CHECK(m.body.find("\n" + name) != std::string::npos);
  }
  CHECK(m.body.find("\nadclick_kafka_brokers_reachable 1") != std::string::npos);
  // A Kafka node's families (its own and the Kafka backend's) pass Prometheus' linter.
  const auto [lint_code, lint_out] = promtool_check_metrics(m.body, dir / "metrics.txt");
  INFO(lint_out);
  CHECK(lint_code == 0);
  CHECK(s.metric("adclick_counts_flushes_applied_total") == 0);  // its own partitions: its shards wrote them
  REQUIRE(s.stop() == 0);
}
