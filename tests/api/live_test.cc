// GET /api/v1/ads/{adId}/live (Server-Sent Events) against the real binary.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;
using namespace std::chrono_literals;

namespace {

// A raw connection that sends one GET and then reads the stream.
class sse_client {
 public:
  sse_client(std::uint16_t port, const std::string& path, const std::string& auth) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" + auth + "\r\n";
    ok_ = ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  ~sse_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Reads until the received bytes contain `text` after position `from`;
  // returns everything received so far.
  std::optional<std::string> until(const std::string& text, std::size_t from = 0,
                                   std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find(text, from) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (!ok_ || left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[4096];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return buf_;
  }
  std::size_t size() const { return buf_.size(); }
  // True once the server closed the stream (seen by until()).
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
  std::string buf_;
};

const std::string kAdv1 = "Authorization: Bearer test-key-for-adv-1-xyz\r\n";
const std::string kAdv2 = "Authorization: Bearer test-key-for-adv-2-xyz\r\n";

}  // namespace

TEST_CASE("live: buckets pushed after each flush, same auth and isolation as the API", "[api]") {
  temp_dir dir;
  click_server s(dir.path(), "[aggregation]\nflush_interval = \"200ms\"\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", "https://shop.example.com/") == 201);
  REQUIRE(s.register_ad(2, "adv-2", "https://shop.example.com/") == 201);

  // Auth and isolation, exactly as for the aggregates.
  CHECK(http_get(s.port(), "/api/v1/ads/1/live").status == 401);
  CHECK(http_get(s.port(), "/api/v1/ads/2/live", kAdv1).status == 404);
  CHECK(http_get(s.port(), "/api/v1/ads/9/live", kAdv1).status == 404);
  CHECK(http_get(s.port(), "/api/v1/ads/1/live?minutes=0", kAdv1).status == 400);
  CHECK(http_request(s.port(), "POST", "/api/v1/ads/1/live", kAdv1).status == 405);

  sse_client c(s.port(), "/api/v1/ads/1/live?minutes=5", kAdv1);
  auto first = c.until("event: buckets\ndata: ");
  REQUIRE(first);
  INFO(*first);
  CHECK(first->find("HTTP/1.1 200") == 0);
  CHECK(first->find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(first->find("Content-Length") == std::string::npos);
  auto event = c.until("\n\n", first->find("event: buckets"));
  REQUIRE(event);
  CHECK(event->find("\"total\":0") != std::string::npos);

  // A click while the stream is open: pushed within 3 s, no polling.
  const auto sent = std::chrono::steady_clock::now();
  const std::size_t seen = c.size();
  REQUIRE(s.click(1, "live-click-1").status == 302);
  auto pushed = c.until("\"total\":1", seen, 3s);
  REQUIRE(pushed);
  CHECK(std::chrono::steady_clock::now() - sent < 3s);
  const auto at = pushed->rfind("event: buckets");
  REQUIRE(at != std::string::npos);
  CHECK(pushed->find("\"adId\":1", at) != std::string::npos);

  // Clicks on another advertiser's ad do not show up in this stream.
  const std::size_t before_other = c.size();
  REQUIRE(s.click(2, "other-ad-click").status == 302);
  REQUIRE(s.click(1, "live-click-2").status == 302);
  auto second = c.until("\"total\":2", before_other, 3s);
  REQUIRE(second);
  CHECK(second->find("\"adId\":2", before_other) == std::string::npos);

  // The server stops cleanly with a stream open.
  CHECK(s.stop() == 0);
}

TEST_CASE("dashboard: files from the binary with security headers, and /api/v1/me", "[api]") {
  temp_dir dir;
  click_server s(dir.path());
  REQUIRE(s.ready());
  auto root = http_get(s.port(), "/");
  CHECK(root.status == 302);
  CHECK(root.headers["location"] == "/dashboard/");
  CHECK(http_get(s.port(), "/dashboard").headers["location"] == "/dashboard/");
  auto index = http_get(s.port(), "/dashboard/");
  REQUIRE(index.status == 200);
  CHECK(index.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(index.body.find("<script src=\"app.js\"") != std::string::npos);
  CHECK(index.body.find("<script>") == std::string::npos);  // no inline script
  const auto& csp = index.headers["content-security-policy"];
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(index.headers["x-content-type-options"] == "nosniff");
  CHECK(index.headers["referrer-policy"] == "no-referrer");
  CHECK(index.headers["x-frame-options"] == "DENY");
  auto js = http_get(s.port(), "/dashboard/app.js");
  CHECK(js.status == 200);
  CHECK(js.headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(js.body.find("sessionStorage") != std::string::npos);
  CHECK(http_get(s.port(), "/dashboard/app.css").headers["content-type"] == "text/css; charset=utf-8");
  auto missing = http_get(s.port(), "/dashboard/../adclick.toml");
  CHECK(missing.status == 404);
  CHECK(missing.headers["x-frame-options"] == "DENY");

  CHECK(http_get(s.port(), "/api/v1/me").status == 401);
  CHECK(http_get(s.port(), "/api/v1/me", "Authorization: Bearer wrong\r\n").status == 401);
  const auto adv = nlohmann::json::parse(http_get(s.port(), "/api/v1/me", kAdv1).body);
  CHECK(adv == nlohmann::json{{"role", "advertiser"}, {"advertiserId", "adv-1"}});
  const auto admin = nlohmann::json::parse(
      http_get(s.port(), "/api/v1/me", std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n").body);
  CHECK(admin == nlohmann::json{{"role", "admin"}});

  // The admin's view of the speed layer.
  CHECK(http_get(s.port(), "/api/v1/status", kAdv1).status == 401);
  const auto st = http_get(s.port(), "/api/v1/status", std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n");
  REQUIRE(st.status == 200);
  const auto status = nlohmann::json::parse(st.body);
  REQUIRE(status.at("shards").size() == 2);
  CHECK(status.at("shards")[0].at("partitions").size() == 4);  // 8 partitions over 2 shards
  CHECK(status.at("shards")[0].contains("lagRecords"));
}

TEST_CASE("live: an advertiser's stream ends when its ad moves to another advertiser", "[api]") {
  // Regression: the stream went on sending the ad's counts to the advertiser
  // that no longer owned it.
  temp_dir dir;
  click_server s(dir.path(), "[aggregation]\nflush_interval = \"100ms\"\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", "https://shop.example.com/") == 201);
  sse_client mine(s.port(), "/api/v1/ads/1/live?minutes=5", kAdv1);
  auto first = mine.until("event: buckets\ndata: ");
  REQUIRE(first);
  const std::size_t seen = mine.size();
  // The admin gives the ad to adv-2; a click on it follows.
  REQUIRE(s.register_ad(1, "adv-2", "https://shop.example.com/") == 200);
  REQUIRE(s.click(1, "after-move").status == 302);
  auto more = mine.until("\"total\":1", seen, 3s);
  CHECK_FALSE(more);
  CHECK(mine.closed());
  // The new owner's stream sees it.
  sse_client theirs(s.port(), "/api/v1/ads/1/live?minutes=5", kAdv2);
  CHECK(theirs.until("\"total\":1", 0, 3s));
  CHECK(s.stop() == 0);
}
