// The real binary, started and stopped as a user would.

#include <netinet/in.h>
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
#include <thread>

#include "ingest/signature.h"
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

namespace {

// Sends half a request head and resets the connection (SO_LINGER 0): the
// server logs the read error at debug level.
void reset_mid_request(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string half = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  REQUIRE(::send(fd, half.data(), half.size(), 0) == static_cast<ssize_t>(half.size()));
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::close(fd);
}

}  // namespace

TEST_CASE(
    "SIGHUP reloads signing keys, API tokens and the log level, and refuses a bad config whole",
    "[app]") {
  temp_dir dir;
  click_server s(dir.path());
  INFO(s.proc().output());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(7, "adv-1", "https://shop.example.com/a") == 201);
  // A second key: links it signs are refused until a reload adds it.
  const std::string raw2 = "fedcba9876543210fedcba9876543210";
  const adclick::ingest::signer k2({{"k2", raw2}}, "k2", 86400);
  auto k2_click = [&](const std::string& imp) {
    return "/click?adId=7&impressionId=" + imp +
           "&signature=" + k2.sign(7, imp, unix_now_s() + 3600);
  };
  const std::string aggregates =
      "/api/v1/ads/7/aggregates?from=" + std::to_string(unix_now_s() - 3600) +
      "&to=" + std::to_string(unix_now_s() + 3600);
  const std::string old_admin = std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n";
  const std::string new_admin = "Authorization: Bearer rotated-admin-token-0123456789\r\n";
  const std::string bad_signature = "adclick_clicks_total{outcome=\"bad_signature\"}";
  CHECK(http_get(s.port(), k2_click("imp-k2-1")).status == 302);  // redirected, not counted
  CHECK(s.metric(bad_signature) == 1);
  CHECK(http_get(s.port(), "/api/v1/ads/7", new_admin).status == 401);
  // At level info a reset connection is not logged (checked below: the
  // first debug line comes after the reload).
  reset_mid_request(s.port());

  auto rewrite = [&](const std::string& signing, const std::string& auth, const std::string& tail) {
    std::ofstream(s.config_path(), std::ios::trunc)
        << "[server]\nlisten = \"127.0.0.1:0\"\n\n"
        << "[storage]\ndata_dir = \"" << dir.path() << "/data\"\n\n"
        << signing << "\n"
        << auth << "\n"
        << tail;
  };
  // Rotation: k2 signs from now on, k1 links still verify; a new admin
  // token; an advertiser key for adv-3; debug logging; and a change that
  // needs a restart (log.partitions).
  rewrite("[signing]\ncurrent_key = \"k2\"\nkeys = { k1 = \"" + std::string(kTestSigningKey) +
              "\", k2 = \"ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=\" }\n",
          "[auth]\nadmin_token = \"rotated-admin-token-0123456789\"\n"
          "advertiser_keys = { \"adv-1\" = \"test-key-for-adv-1-xyz\", \"adv-3\" = "
          "\"test-key-for-adv-3-xyz\" }\n",
          "[log]\npartitions = 4\n\n[logging]\nlevel = \"debug\"\n");
  s.proc().signal(SIGHUP);
  REQUIRE(s.proc().wait_for_output("serve: SIGHUP: config reloaded from"));
  CHECK_THAT(s.proc().output(),
             Catch::Contains("current k2") &&
                 Catch::Contains("changed but kept until a restart: log.partitions\n"));
  CHECK(http_get(s.port(), k2_click("imp-k2-2")).status == 302);
  CHECK(s.click(7, "imp-k1-1").status == 302);  // k1 still verifies
  CHECK(s.metric(bad_signature) == 1);
  reset_mid_request(s.port());  // at level debug: logged
  CHECK(s.proc().wait_for_output("debug http: read header"));
  {
    const std::string out = s.proc().output();
    CHECK(out.find("debug http: read header") > out.find("serve: SIGHUP: config reloaded"));
  }
  CHECK(http_get(s.port(), "/api/v1/ads/7", old_admin).status == 401);
  CHECK(http_get(s.port(), "/api/v1/ads/7", new_admin).status == 200);
  CHECK(http_get(s.port(), aggregates,
                 "Authorization: Bearer test-key-for-adv-3-xyz\r\n")
            .status == 404);  // known now (401 before), and not adv-3's ad
  CHECK(http_get(s.port(), aggregates,
                 "Authorization: Bearer test-key-for-adv-2-xyz\r\n")
            .status == 401);  // removed
  // Minted links are signed with the new current key.
  CHECK_THAT(http_request(s.port(), "POST", "/api/v1/ads/7/click-urls", new_admin).body,
             Catch::Contains("signature=v1.k2."));

  // A config that fails validation: refused whole, one line naming the key;
  // the running keys and tokens stay.
  rewrite(
      "[signing]\ncurrent_key = \"k9\"\nkeys = { k1 = \"" + std::string(kTestSigningKey) + "\" }\n",
      "[auth]\nadmin_token = \"another-admin-token-0123456789\"\n", "");
  s.proc().signal(SIGHUP);
  REQUIRE(s.proc().wait_for_output("reload refused, keeping the running config"));
  CHECK_THAT(s.proc().output(), Catch::Contains("signing.current_key"));
  CHECK(http_get(s.port(), "/api/v1/ads/7", new_admin).status == 200);
  CHECK(http_get(s.port(), k2_click("imp-k2-3")).status == 302);
  CHECK(s.metric(bad_signature) == 1);
  // All three counted (read as adv-1: the test's admin token is gone).
  std::string body;
  for (int i = 0; i < 1500 && body.find("\"total\":3") == std::string::npos; ++i) {
    body = http_get(s.port(), aggregates, "Authorization: Bearer test-key-for-adv-1-xyz\r\n").body;
    if (body.find("\"total\":3") == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_THAT(body, Catch::Contains("\"total\":3"));
  CHECK(s.stop() == 0);
}
