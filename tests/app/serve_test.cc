// The real binary, started and stopped as a user would.

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/doc_metrics.h"
#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/promtool.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;

TEST_CASE("serve answers healthz and readyz, and stops cleanly on SIGTERM", "[app]") {
  temp_dir dir;
  const auto cfg = write_test_config(dir.path());
  adclick_server server(cfg, dir / "out.txt");
  INFO(server.proc().output());
  REQUIRE(server.ready());
  const auto health = http_get(server.port(), "/healthz");
  CHECK(health.status == 200);
  const auto ready = http_get(server.port(), "/readyz");
  CHECK(ready.status == 200);
  CHECK(http_get(server.port(), "/no-such-path").status == 404);
  CHECK(std::filesystem::exists(dir.path() + "/data/log/LOG_META"));

  // Startup printed the effective config with secrets masked.
  const auto out = server.proc().output();
  CHECK(out.find("config: [log]") != std::string::npos);
  CHECK(out.find(kTestAdminToken) == std::string::npos);
  CHECK(out.find("test-key-for-adv-1-xyz") == std::string::npos);

  const int sig = GENERATE(SIGTERM, SIGINT);
  server.proc().signal(sig);
  const auto code = server.proc().wait();
  REQUIRE(code);
  CHECK(*code == 0);
  // A clean stop let go of the data dir: the next serve on it starts.
  adclick_server next(cfg, dir / "next.txt");
  CHECK(next.ready());
}

TEST_CASE("a second serve on the same data dir is refused", "[app]") {
  temp_dir dir;
  const auto cfg = write_test_config(dir.path());
  adclick_server first(cfg, dir / "first.txt");
  REQUIRE(first.ready());
  const auto [code, out] = run({ADCLICK_BINARY, "serve", "--config", cfg});
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("in use by another adclick") &&
                      Catch::Contains(std::to_string(first.proc().pid())));
  // The first one is unharmed.
  CHECK(http_get(first.port(), "/healthz").status == 200);
}

TEST_CASE("a bad config is refused at start with one line naming the key", "[app]") {
  temp_dir dir;
  SECTION("unknown key") {
    const auto cfg = write_test_config(dir.path(), "[log]\npartitons = 4\n");
    const auto [code, out] = run({ADCLICK_BINARY, "serve", "--config", cfg});
    CHECK(code == 2);
    CHECK_THAT(out, Catch::Contains("log.partitons"));
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
  SECTION("bad value") {
    const auto cfg = write_test_config(dir.path(), "[aggregation]\nflush_interval = \"soon\"\n");
    const auto [code, out] = run({ADCLICK_BINARY, "serve", "--config", cfg});
    CHECK(code == 2);
    CHECK_THAT(out, Catch::Contains("aggregation.flush_interval"));
  }
  SECTION("missing file") {
    const auto [code, out] = run({ADCLICK_BINARY, "serve", "--config", dir / "nope.toml"});
    CHECK(code == 2);
    CHECK_THAT(out, Catch::Contains("nope.toml"));
  }
  SECTION("port in use") {
    const auto cfg1 = write_test_config(dir.path());
    adclick_server first(cfg1, dir / "first.txt");
    REQUIRE(first.ready());
    temp_dir other;
    const auto cfg2 = write_test_config(
        other.path(), "", "");
    // Rewrite the listen address of the second config to the first's port.
    std::string text;
    {
      std::ifstream in(cfg2);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    text.replace(text.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(first.port()));
    std::ofstream(cfg2) << text;
    const auto [code, out] = run({ADCLICK_BINARY, "serve", "--config", cfg2});
    CHECK(code == 1);
    CHECK_THAT(out, Catch::Contains("cannot listen"));
  }
}

TEST_CASE("the data survives a restart on the same data dir", "[app]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(7, "adv-1", "https://seven.example/") == 201);
  for (const char* imp : {"r-1", "r-2", "r-3"}) REQUIRE(s.click(7, imp).status == 302);
  REQUIRE(s.wait_counted_total(7, 3) == 3);
  REQUIRE(s.stop() == 0);
  s.restart();
  REQUIRE(s.ready());
  // The ad, its counts and its dedup keys came back from disk.
  CHECK(s.click(7, "r-4").status == 302);
  CHECK(s.click(7, "r-1").status == 302);  // a duplicate: redirected, not counted
  CHECK(s.wait_counted_total(7, 4) == 4);
  CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 1);
}

TEST_CASE("ads import writes the ads snapshot, and the server redirects from it", "[app]") {
  temp_dir dir;
  const auto cfg = write_test_config(dir.path());
  {
    std::ofstream csv(dir / "ads.csv");
    csv << "adId,advertiserId,url\n";
    for (int id = 1; id <= 2000; ++id) csv << id << ",adv-1,https://shop.example/p" << id << "\n";
  }
  const auto [code, out] = run({ADCLICK_BINARY, "ads", "import", "--config", cfg, dir / "ads.csv"});
  INFO(out);
  REQUIRE(code == 0);
  CHECK_THAT(out, Catch::Contains("imported 2000 ads") && Catch::Contains("wrote the ads snapshot of 2000 ads"));
  CHECK(std::filesystem::exists(dir / "data/ads.snap"));

  adclick_server server(cfg, dir / "out.txt");
  INFO(server.proc().output());
  REQUIRE(server.ready());
  CHECK_THAT(server.proc().output(), Catch::Contains("snapshot of 2000 ads in use"));
  const auto [scode, url] = run({ADCLICK_BINARY, "sign", "--config", cfg, "--ad", "1234"});
  REQUIRE(scode == 0);
  const auto at = url.find("/click?");
  REQUIRE(at != std::string::npos);
  auto path = url.substr(at);
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  const auto click = http_get(server.port(), path);
  REQUIRE(click.status == 302);
  REQUIRE(click.headers.count("location") == 1);
  CHECK(click.headers.at("location") == "https://shop.example/p1234");
  const auto metrics = http_get(server.port(), "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("adclick_ads_snapshot_ads 2000") &&
                          Catch::Contains("adclick_ads_snapshot_reads_total 1") &&
                          Catch::Contains("adclick_ads_snapshot_errors_total 0"));
}

TEST_CASE("every metric the README and docs name is on /metrics", "[app]") {
  const auto named = metric_names_in_docs();
  REQUIRE(named.count("adclick_log_sync_failures_total") == 1);
  temp_dir dir;
  adclick_server server(write_test_config(dir.path()), dir / "out.txt");
  REQUIRE(server.ready());
  const auto m = http_get(server.port(), "/metrics");
  REQUIRE(m.status == 200);
  for (const auto& name : named) {
    // The Kafka backend's are checked on a Kafka node (tests/cluster).
    if (kafka_metric(name)) continue;
    INFO(name);
    // A sample line starts with the name (histograms add _bucket, _sum and _count).
    CHECK(m.body.find("\n" + name) != std::string::npos);
  }
}

TEST_CASE("/metrics passes Prometheus' own linter (promtool check metrics)", "[app]") {
  temp_dir dir;
  const auto lint = [&](const std::string& text) { return promtool_check_metrics(text, dir / "metrics.txt"); };
  // The linter runs here and finds what it should: a total typed gauge.
  const auto [bad_code, bad_out] = lint("# HELP x_total A total.\n# TYPE x_total gauge\nx_total 1\n");
  INFO(bad_out);
  REQUIRE(bad_code != 0);
  REQUIRE_THAT(bad_out, Catch::Contains("non-counter metrics should not have \"_total\" suffix"));

  const auto cfg = write_test_config(dir.path());
  adclick_server server(cfg, dir / "out.txt");
  REQUIRE(server.ready());
  // A click first, so that the click path's families have samples.
  const auto [scode, url] = run({ADCLICK_BINARY, "sign", "--config", cfg, "--ad", "1"});
  REQUIRE(scode == 0);
  auto path = url.substr(url.find("/click?"));
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  (void)http_get(server.port(), path);
  const auto m = http_get(server.port(), "/metrics");
  REQUIRE(m.status == 200);
  const auto [code, out] = lint(m.body);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.empty());
}

TEST_CASE("under a service manager (NOTIFY_SOCKET) serve says READY=1 once ready and STOPPING=1 at a stop", "[app]") {
  temp_dir dir;
  // The manager's end: a datagram socket, as systemd's for a Type=notify unit.
  const std::string sock_path = dir / "notify.sock";
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock_path.size() < sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  REQUIRE(::bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  const timeval wait{30, 0};
  REQUIRE(::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) == 0);
  const auto next_message = [&] {
    char buf[512];
    const auto n = ::recv(sock, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };

  const auto cfg = write_test_config(dir.path());
  process p({"/usr/bin/env", "NOTIFY_SOCKET=" + sock_path, ADCLICK_BINARY, "serve", "--config", cfg}, dir / "out.txt");
  const std::string ready = next_message();
  INFO(p.output());
  CHECK_THAT(ready, Catch::StartsWith("READY=1"));
  // It was ready when it said so.
  REQUIRE(p.wait_for_output("listening on"));
  const std::string out = p.output();
  const auto at = out.find("listening on 127.0.0.1:") + std::string("listening on 127.0.0.1:").size();
  const auto port = static_cast<std::uint16_t>(std::stoi(out.substr(at)));
  CHECK(http_get(port, "/readyz").status == 200);

  p.signal(SIGTERM);
  CHECK(next_message() == "STOPPING=1");
  CHECK(p.wait() == 0);
  ::close(sock);
}
