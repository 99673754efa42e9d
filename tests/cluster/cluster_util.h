#pragma once
// What the multi-process tests share: `adclick kafka-mock` as a child
// process, the topic's contents, and waiting for /readyz.

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "kafka/kafka_log.h"
#include "testutil/click_server.h"
#include "testutil/http_client.h"
#include "testutil/process.h"

namespace adclick::testutil {

using namespace std::chrono_literals;

inline constexpr const char* kUrl = "https://shop.example.com/";
inline constexpr int kPartitions = 4;

// `adclick kafka-mock` with its bootstrap servers read from its first line.
struct mock_cluster_process {
  explicit mock_cluster_process(const std::string& dir)
      : proc({ADCLICK_BINARY, "kafka-mock", "--brokers", "3", "--partitions", std::to_string(kPartitions)},
             dir + "/mock.out", true) {
    REQUIRE(proc.wait_for_output("\"\n", 20s));
    std::smatch m;
    const std::string out = proc.output();
    REQUIRE(std::regex_search(out, m, std::regex(R"re(bootstrap_servers = "([^"]+)")re")));
    servers = m[1];
  }
  // Sends one stdin command and waits for its "ok".
  void command(const std::string& line) {
    const auto oks = count_ok();
    proc.write_stdin(line + "\n");
    for (int i = 0; i < 200 && count_ok() == oks; ++i) std::this_thread::sleep_for(20ms);
    REQUIRE(count_ok() == oks + 1);
  }
  std::size_t count_ok() const {
    const std::string out = proc.output();
    std::size_t n = 0;
    for (std::size_t at = out.find("ok\n"); at != std::string::npos; at = out.find("ok\n", at + 1)) ++n;
    return n;
  }
  process proc;
  std::string servers;
};

// Every impression id in the topic, with how often it occurs.
inline std::map<std::string, int> impressions_in_topic(const std::string& servers) {
  kafka::kafka_log_options o;
  o.client.bootstrap_servers = servers;
  o.partitions = kPartitions;
  std::string error;
  auto l = kafka::kafka_log::open(o, error);
  INFO(error);
  REQUIRE(l.has_value());
  std::map<std::string, int> seen;
  for (log::partition_id p = 0; p < kPartitions; ++p) {
    auto r = (*l)->open_reader(p, 0);
    while (r->position() < (*l)->durable_end(p)) {
      auto n = r->read(1000, [&](log::offset_t, const click_view& v) { ++seen[std::string(v.impression_id)]; });
      REQUIRE(n.has_value());
      if (*n == 0) break;
    }
    CHECK(r->position() == (*l)->durable_end(p));
  }
  (*l)->stop();
  return seen;
}

inline bool wait_ready(std::uint16_t port, bool want, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if ((http_get(port, "/readyz").status == 200) == want) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// A number field of ad_id's aggregates over the last and next hour, as the
// admin sees it ("duplicate" of "invalid", "finalThrough"...): -1 when it
// is absent or null.
inline long long aggregates_field(click_server& s, std::uint64_t ad_id, const std::string& field) {
  const std::int64_t now = unix_now_s();
  const auto r = s.admin("GET", "/api/v1/ads/" + std::to_string(ad_id) + "/aggregates?from=" +
                                    std::to_string(now - 3600) + "&to=" + std::to_string(now + 3600));
  std::smatch m;
  if (!std::regex_search(r.body, m, std::regex("\"" + field + "\":(-?[0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

// Polls aggregates_field for up to 30 s until it is `want`; the last value.
inline long long wait_aggregates_field(click_server& s, std::uint64_t ad_id, const std::string& field,
                                       long long want) {
  long long v = -1;
  for (int i = 0; i < 1500 && v != want; ++i) {
    v = aggregates_field(s, ad_id, field);
    if (v != want) std::this_thread::sleep_for(20ms);
  }
  return v;
}

}  // namespace adclick::testutil
