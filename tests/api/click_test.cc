// The click path against the real binary on 127.0.0.1.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <set>
#include <thread>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;

namespace {
constexpr const char* kUrl = "https://shop.example.com/landing?campaign=7&x=1";

void check_redirect(const http_response& r, const std::string& url = kUrl) {
  CHECK(r.status == 302);
  CHECK(r.headers.count("location") == 1);
  if (r.headers.count("location") != 0) CHECK(r.headers.at("location") == url);
  CHECK(r.headers.count("cache-control") == 1);
  if (r.headers.count("cache-control") != 0) CHECK(r.headers.at("cache-control") == "no-store");
  CHECK_THAT(r.body, Catch::Contains("<a href="));
}
}  // namespace

TEST_CASE("every click outcome: status, Location, Cache-Control, tallies", "[api]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(42, "adv-1", kUrl) == 201);

  SECTION("counted, then duplicate") {
    check_redirect(s.click(42, "imp-1"));
    check_redirect(s.click(42, "imp-1"));
    CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 1);
    CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 1);
  }
  SECTION("bad signature, expired, too far ahead: redirected, not counted") {
    std::string path = click_server::click_path(42, "imp-2");
    path[path.size() - 2] = path[path.size() - 2] == 'A' ? 'B' : 'A';
    check_redirect(http_get(s.port(), path));
    check_redirect(http_get(s.port(), click_server::click_path(42, "imp-3", unix_now_s() - 5)));
    check_redirect(http_get(s.port(), click_server::click_path(42, "imp-4", unix_now_s() + 3 * 86400)));
    // Signed for another ad.
    std::string other = click_server::click_path(43, "imp-5");
    other.replace(other.find("adId=43"), 7, "adId=42");
    check_redirect(http_get(s.port(), other));
    CHECK(s.metric("adclick_clicks_total{outcome=\"bad_signature\"}") == 3);
    CHECK(s.metric("adclick_clicks_total{outcome=\"expired\"}") == 1);
    CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 0);
    // A genuine click with the same impression id still counts afterwards.
    check_redirect(s.click(42, "imp-2"));
    CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 1);
  }
  SECTION("unknown and paused ads: 404") {
    auto r = s.click(999, "imp-1");
    CHECK(r.status == 404);
    CHECK(r.headers.count("location") == 0);
    REQUIRE(s.admin("DELETE", "/api/v1/ads/42").status == 200);
    CHECK(s.click(42, "imp-9").status == 404);
    CHECK(s.metric("adclick_clicks_total{outcome=\"unknown_ad\"}") == 2);
    // History kept: the ad is still listed, paused.
    auto got = s.admin("GET", "/api/v1/ads/42");
    CHECK(got.status == 200);
    CHECK_THAT(got.body, Catch::Contains("\"paused\""));
  }
  SECTION("malformed requests: 400 JSON") {
    const std::string sig = click_server::click_path(42, "imp-1").substr(
        click_server::click_path(42, "imp-1").find("&signature="));
    for (const std::string& q :
         {std::string("/click"), std::string("/click?adId=42&impressionId=imp-1"),
          "/click?impressionId=imp-1" + sig, "/click?adId=abc&impressionId=imp-1" + sig,
          "/click?adId=0&impressionId=imp-1" + sig,
          "/click?adId=9223372036854775808&impressionId=imp-1" + sig,
          "/click?adId=42&impressionId=bad%20id" + sig, "/click?adId=42&impressionId=" + sig,
          "/click?adId=42&impressionId=" + std::string(129, 'a') + sig,
          "/click?adId=42&adId=42&impressionId=imp-1" + sig}) {
      INFO(q);
      auto r = http_get(s.port(), q);
      CHECK(r.status == 400);
      CHECK_THAT(r.body, Catch::Contains("\"error\""));
    }
  }
  SECTION("nothing in the request chooses the Location") {
    const std::string path = click_server::click_path(42, "imp-7") +
                             "&url=https://evil.example/&Location=https://evil.example/&redirect=x";
    check_redirect(http_get(s.port(), path));
    auto r = http_get(s.port(), click_server::click_path(42, "imp-8"),
                      "Referer: https://evil.example/\r\nHost: evil.example\r\n");
    check_redirect(r);
  }
}

TEST_CASE("ad registration validates URLs and needs the admin token", "[api]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  for (const std::string& bad :
       {std::string("javascript:alert(1)"), std::string("/relative/path"), std::string("ftp://x.com/"),
        std::string("https://"), std::string("https://ex ample.com/"),
        std::string("https://example.com/\\r\\nSet-Cookie: a=b"), std::string("https://user@evil.com/"),
        std::string("https://example.com/") + std::string(2100, 'a'), std::string("//example.com/")}) {
    INFO(bad);
    auto r = s.admin("PUT", "/api/v1/ads/5", "{\"advertiserId\":\"adv-1\",\"url\":\"" + bad + "\"}");
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains("url"));
  }
  CHECK(s.admin("PUT", "/api/v1/ads/5", "not json").status == 400);
  CHECK(s.admin("PUT", "/api/v1/ads/5", "{\"advertiserId\":\"adv 1\",\"url\":\"https://a.com/\"}").status == 400);
  CHECK(s.admin("PUT", "/api/v1/ads/0", "{\"advertiserId\":\"adv-1\",\"url\":\"https://a.com/\"}").status == 404);
  CHECK(s.admin("PUT", "/api/v1/ads/5", "{\"advertiserId\":\"adv-1\",\"url\":\"https://a.com/\",\"x\":1}").status == 400);
  // No token, wrong token, an advertiser's key: 401.
  const std::string body = "{\"advertiserId\":\"adv-1\",\"url\":\"https://a.com/\"}";
  CHECK(http_request(s.port(), "PUT", "/api/v1/ads/5", "", body).status == 401);
  CHECK(http_request(s.port(), "PUT", "/api/v1/ads/5", "Authorization: Bearer nope\r\n", body).status == 401);
  CHECK(http_request(s.port(), "PUT", "/api/v1/ads/5",
                     "Authorization: Bearer test-key-for-adv-1-xyz\r\n", body).status == 401);
  CHECK(s.admin("PUT", "/api/v1/ads/5", body).status == 201);
  CHECK(s.admin("PUT", "/api/v1/ads/5", body).status == 200);  // replace
  CHECK(s.register_ad(6, "adv-2", "http://b.example:8080/p") == 201);
  auto list = s.admin("GET", "/api/v1/ads?advertiserId=adv-2");
  CHECK(list.status == 200);
  CHECK_THAT(list.body, Catch::Contains("\"adId\":6") && !Catch::Contains("\"adId\":5"));
  auto page = s.admin("GET", "/api/v1/ads?limit=1");
  CHECK_THAT(page.body, Catch::Contains("\"adId\":5") && Catch::Contains("\"next\":5"));
  CHECK(s.admin("GET", "/api/v1/ads?limit=0").status == 400);
  CHECK(s.admin("PATCH", "/api/v1/ads/5").status == 405);
}

TEST_CASE("32 concurrent clicks with one new impression: all 302, exactly one counted and logged", "[api]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(7, "adv-1", kUrl) == 201);
  const std::string path = click_server::click_path(7, "same-impression");
  std::atomic<int> redirects{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 32; ++i) {
    ts.emplace_back([&] {
      if (http_get(s.port(), path).status == 302) ++redirects;
    });
  }
  for (auto& t : ts) t.join();
  CHECK(redirects == 32);
  CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 1);
  CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 31);
  const auto [code, out] = run({ADCLICK_BINARY, "log", "inspect", dir.path() + "/data"});
  CHECK(code == 0);
  CHECK_THAT(out, Catch::Contains(" 1 records"));

  SECTION("a duplicate after a clean restart is still a duplicate") {
    REQUIRE(s.stop() == 0);
    s.restart();
    REQUIRE(s.ready());
    check_redirect(http_get(s.port(), path));
    CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 1);
    CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 0);
  }
  SECTION("and after a SIGKILL") {
    s.kill();
    s.restart();
    REQUIRE(s.ready());
    check_redirect(http_get(s.port(), path));
    CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 1);
    CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 0);
  }
}

TEST_CASE("click URLs from the admin API and from adclick sign are counted", "[api]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(9, "adv-1", kUrl) == 201);
  auto r = s.admin("POST", "/api/v1/ads/9/click-urls", "{\"count\":3,\"ttl\":\"10m\"}");
  REQUIRE(r.status == 200);
  std::set<std::string> urls;
  std::size_t pos = 0;
  while ((pos = r.body.find("/click?", pos)) != std::string::npos) {
    const auto end = r.body.find('"', pos);
    urls.insert(r.body.substr(pos, end - pos));
    pos = end;
  }
  REQUIRE(urls.size() == 3);
  for (const auto& u : urls) check_redirect(http_get(s.port(), u));
  CHECK(s.admin("POST", "/api/v1/ads/9/click-urls", "{\"count\":0}").status == 400);
  CHECK(s.admin("POST", "/api/v1/ads/9/click-urls", "{\"ttl\":\"3d\"}").status == 400);
  CHECK(s.admin("POST", "/api/v1/ads/77/click-urls", "{}").status == 404);

  const auto [code, out] = run({ADCLICK_BINARY, "sign", "--config", s.config_path(), "--ad", "9",
                                "--impression", "from-cli", "--ttl", "5m"});
  REQUIRE(code == 0);
  const auto path = out.substr(out.find("/click?"));
  check_redirect(http_get(s.port(), path.substr(0, path.find('\n'))));
  CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 4);
  CHECK(run({ADCLICK_BINARY, "sign", "--config", s.config_path(), "--ad", "9", "--ttl", "2d"}).first == 2);
}

TEST_CASE("oversized headers get 431, and a slow client is cut off while others are served", "[api]") {
  temp_dir dir;
  click_server s(dir.path(), "", "header_timeout = \"300ms\"\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  auto big = http_get(s.port(), click_server::click_path(1, "imp-big"),
                      "X-Big: " + std::string(10000, 'a') + "\r\n");
  CHECK(big.status == 431);
  // A client that sends half a request line and stalls.
  std::atomic<bool> cut{false};
  std::thread slow([&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(s.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    (void)::send(fd, "GET /click?adId=1", 17, 0);
    char buf[64];
    const auto t0 = std::chrono::steady_clock::now();
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // blocks until the server closes
    cut = n == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5);
    ::close(fd);
  });
  check_redirect(s.click(1, "imp-meanwhile"));
  slow.join();
  CHECK(cut);
}
