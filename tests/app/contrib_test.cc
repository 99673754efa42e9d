// contrib/: the Prometheus alert rules and the Grafana dashboard that ship
// with adclick, checked with Prometheus' own tool and against the real
// binary's /metrics.

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;

namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(ADCLICK_SOURCE_DIR) + "/" + relative);
  if (!in) FAIL("cannot read " << relative);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The metric names (adclick_..., process_...) a text uses.
std::set<std::string> metric_names(const std::string& text) {
  std::set<std::string> names;
  const std::regex name(R"(\b(adclick|process)_[a-z0-9_]*[a-z0-9]\b)");
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) names.insert(it->str());
  return names;
}

// The dashboard's queries, with its variables given values a rule file takes.
std::vector<std::string> dashboard_queries(const nlohmann::json& dash) {
  std::vector<std::string> out;
  for (const auto& panel : dash.at("panels")) {
    for (const auto& target : panel.at("targets")) {
      std::string q = target.at("expr").get<std::string>();
      q = std::regex_replace(q, std::regex(R"(\$job)"), "adclick");
      q = std::regex_replace(q, std::regex(R"(\$instance)"), ".*");
      out.push_back(q);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("contrib: the alert rules pass promtool's check and their own unit tests", "[app]") {
  const std::string dir = std::string(ADCLICK_SOURCE_DIR) + "/contrib/prometheus";
  const auto [check_code, check_out] = run({"promtool", "check", "rules", dir + "/alerts.yml"});
  INFO(check_out);
  CHECK(check_code == 0);
  CHECK_THAT(check_out, Catch::Contains("SUCCESS: 8 rules found"));
  const auto [test_code, test_out] = run({"promtool", "test", "rules", dir + "/alerts_test.yml"});
  INFO(test_out);
  CHECK(test_code == 0);
  CHECK_THAT(test_out, Catch::Contains("SUCCESS"));
}

TEST_CASE("contrib: the Grafana dashboard's queries parse, and it and the alerts name only metrics on /metrics",
          "[app]") {
  const auto dash = nlohmann::json::parse(read_source("contrib/grafana/adclick.json"));
  CHECK(dash.at("uid") == "adclick");
  const auto queries = dashboard_queries(dash);
  REQUIRE(queries.size() >= 10);

  // Each query as a recording rule: promtool parses its PromQL.
  temp_dir dir;
  {
    std::ofstream rules(dir / "dashboard-rules.yml");
    rules << "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t i = 0; i < queries.size(); ++i) {
      rules << "      - record: dashboard_query_" << i << "\n        expr: '" << queries[i] << "'\n";
    }
  }
  const auto [code, out] = run({"promtool", "check", "rules", dir / "dashboard-rules.yml"});
  INFO(out);
  CHECK(code == 0);

  // Every metric they name is on a running server's /metrics (after a click,
  // so that the click route's histogram exists).
  std::string all_queries;
  for (const auto& q : queries) all_queries += q + "\n";
  auto names = metric_names(all_queries);
  const auto alert_names = metric_names(read_source("contrib/prometheus/alerts.yml"));
  names.insert(alert_names.begin(), alert_names.end());
  REQUIRE(names.count("adclick_ready") == 1);
  REQUIRE(names.count("process_resident_memory_bytes") == 1);

  click_server s(dir.path());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", "https://shop.example/p1") == 201);
  REQUIRE(s.click(1, "contrib-1").status == 302);
  const auto m = http_get(s.port(), "/metrics");
  REQUIRE(m.status == 200);
  for (const auto& name : names) {
    INFO(name);
    CHECK(m.body.find("\n" + name) != std::string::npos);
  }
}

TEST_CASE("contrib: the systemd unit passes systemd-analyze verify and asks for what the service needs", "[app]") {
  const std::string unit = read_source("contrib/systemd/adclick.service");
  for (const char* line : {"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=adclick",
                           "StateDirectory=adclick", "ProtectSystem=strict", "NoNewPrivileges=yes",
                           "AmbientCapabilities=CAP_NET_BIND_SERVICE", "LimitNOFILE="}) {
    INFO(line);
    CHECK_THAT(unit, Catch::Contains(std::string("\n") + line));
  }
  // verify checks that ExecStart's binary exists: point it at this build's.
  temp_dir dir;
  const std::string copy = dir / "adclick.service";
  std::ofstream(copy) << std::regex_replace(unit, std::regex("/usr/bin/adclick"), ADCLICK_BINARY);
  const auto [code, out] = run({"systemd-analyze", "verify", copy});
  INFO(out);
  CHECK(code == 0);
  CHECK(out.empty());
}
