// Nodes with split roles over one topic: a front end that only takes
// clicks, an aggregator that only counts, a query node that only answers.

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "cluster/cluster_util.h"
#include "testutil/click_server.h"
#include "testutil/http_client.h"
#include "testutil/temp_dir.h"

namespace {

using namespace adclick;
using namespace adclick::testutil;
using namespace std::chrono_literals;

std::string node_config(const std::string& servers, const std::string& id, const std::string& roles) {
  return "[log]\nbackend = \"kafka\"\npartitions = " + std::to_string(kPartitions) +
         "\n\n[aggregation]\nflush_interval = \"250ms\"\n\n[kafka]\nbootstrap_servers = \"" + servers +
         "\"\n\n[kafka.properties]\n\"session.timeout.ms\" = \"3000\"\n\n[node]\nid = \"" + id +
         "\"\nroles = " + roles + "\n";
}

std::string make_dir(const std::string& d) {
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("split roles on Kafka: clicks taken by a front end, counted by an aggregator, answered by a query node",
          "[cluster]") {
  temp_dir dir;
  mock_cluster_process mock(dir.path());
  click_server front(make_dir(dir.path() + "/front"), node_config(mock.servers, "front", "[\"front\"]"));
  click_server agg(make_dir(dir.path() + "/agg"), node_config(mock.servers, "agg", "[\"aggregate\"]"));
  click_server query(make_dir(dir.path() + "/query"), node_config(mock.servers, "query", "[\"query\"]"));
  for (auto* s : {&front, &agg, &query}) {
    REQUIRE(s->ready());
    REQUIRE(s->register_ad(1, "adv-1", kUrl) == 201);
    REQUIRE(wait_ready(s->port(), true, 30s));
  }
  for (int i = 0; i < 50; ++i) REQUIRE(front.click(1, "split-" + std::to_string(i)).status == 302);
  CHECK(query.wait_counted_total(1, 50) == 50);
  // The front end's own tallies reach the query node, and so does the
  // aggregator's watermark (finalThrough).
  REQUIRE(front.click(1, "split-0").status == 302);
  CHECK(wait_aggregates_field(query, 1, "duplicate", 1) == 1);
  CHECK(aggregates_field(query, 1, "finalThrough") == -1);  // an RFC 3339 string, not a number
  const std::int64_t now = unix_now_s();
  const auto series = query.admin("GET", "/api/v1/ads/1/aggregates?from=" + std::to_string(now - 3600) +
                                             "&to=" + std::to_string(now + 60));
  CHECK(series.body.find("\"finalThrough\":null") == std::string::npos);
  CHECK(series.body.find("\"finalThrough\":\"") != std::string::npos);

  // Each node says which routes its roles leave out.
  const auto no_clicks = query.click(1, "split-x");
  CHECK(no_clicks.status == 404);
  CHECK(no_clicks.body.find("\"not_served\"") != std::string::npos);
  const auto no_queries = front.admin("GET", "/api/v1/ads/1/aggregates?from=0&to=60");
  CHECK(no_queries.status == 404);
  CHECK(no_queries.body.find("node.roles leave out \\\"query\\\"") != std::string::npos);
  CHECK(agg.click(1, "split-y").status == 404);

  // The aggregator SIGKILLed and back: nothing lost or doubled.
  agg.kill();
  for (int i = 50; i < 80; ++i) REQUIRE(front.click(1, "split-" + std::to_string(i)).status == 302);
  agg.restart();
  REQUIRE(agg.ready());
  CHECK(query.wait_counted_total(1, 80) == 80);
}

TEST_CASE("split roles on Kafka: the batch layer's correction reaches the query node", "[cluster]") {
  temp_dir dir;
  mock_cluster_process mock(dir.path());
  click_server agg(make_dir(dir.path() + "/agg"), node_config(mock.servers, "agg", "[\"front\", \"aggregate\"]"));
  click_server query(make_dir(dir.path() + "/query"), node_config(mock.servers, "query", "[\"query\"]"));
  for (auto* s : {&agg, &query}) {
    REQUIRE(s->ready());
    REQUIRE(s->register_ad(1, "adv-1", kUrl) == 201);
    REQUIRE(wait_ready(s->port(), true, 30s));
  }
  // A click stamped ten minutes ago reaches the topic (a front end whose
  // append was slow, say): too late for the speed layer, tallied late.
  const std::int64_t minute_s = (unix_now_s() - 600) / 60 * 60;
  {
    kafka::kafka_log_options o;
    o.client.bootstrap_servers = mock.servers;
    o.partitions = kPartitions;
    std::string error;
    auto l = kafka::kafka_log::open(o, error);
    REQUIRE(l.has_value());
    click_record r;
    r.event_time_ms = minute_s * 1000 + 30'000;
    r.ad_id = 1;
    r.expires_at_s = unix_now_s() + 3600;
    r.key_id = "k1";
    r.impression_id = "old-click";
    r.client.family = 4;
    r.client.bytes = {127, 0, 0, 1};
    REQUIRE((*l)->append_and_wait(1, r).has_value());
    (*l)->stop();
  }
  CHECK(wait_aggregates_field(query, 1, "late", 1) == 1);
  const std::string range = "from=" + std::to_string(minute_s) + "&to=" + std::to_string(minute_s + 60);
  CHECK(query.admin("GET", "/api/v1/ads/1/aggregates?" + range).body.find("\"total\":0") != std::string::npos);

  // The aggregator's batch layer recounts that minute from the topic and
  // publishes the correction: every node counts the click.
  const auto posted = agg.admin("POST", "/api/v1/reconciliations",
                                "{\"from\":" + std::to_string(minute_s) + ",\"to\":" + std::to_string(minute_s + 60) + "}");
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  bool corrected = false;
  for (int i = 0; i < 1500 && !corrected; ++i) {
    corrected = query.admin("GET", "/api/v1/ads/1/aggregates?" + range).body.find("\"total\":1") != std::string::npos;
    if (!corrected) std::this_thread::sleep_for(20ms);
  }
  CHECK(corrected);
  // The correction reaches the counts topic before the run stores its
  // report as done: wait for that too.
  auto report = agg.admin("GET", "/api/v1/reconciliations/1");
  for (int i = 0; i < 1500 && report.body.find("\"state\":\"done\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    report = agg.admin("GET", "/api/v1/reconciliations/1");
  }
  INFO(report.body);
  CHECK(report.body.find("\"rowsCorrected\":1,") != std::string::npos);
  CHECK(report.body.find("\"state\":\"done\"") != std::string::npos);
}
