#include "testutil/click_server.h"

#include <signal.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "ingest/signature.h"
#include "testutil/config_file.h"

namespace adclick::testutil {

std::int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

click_server::click_server(const std::string& dir, const std::string& extra,
                           const std::string& server_extra)
    : dir_(dir), config_(write_test_config(dir, extra, server_extra)) {
  restart();
}

click_server::~click_server() = default;

void click_server::restart() {
  server_.reset();
  server_ = std::make_unique<adclick_server>(config_, dir_ + "/out" + std::to_string(starts_++) + ".txt");
}

int click_server::stop() {
  server_->proc().signal(SIGTERM);
  auto code = server_->proc().wait();
  return code ? *code : -1;
}

void click_server::kill() {
  server_->proc().signal(SIGKILL);
  (void)server_->proc().wait();
}

http_response click_server::admin(const std::string& method, const std::string& path,
                                  const std::string& body) {
  return http_request(port(), method, path,
                      std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n", body);
}

int click_server::register_ad(std::uint64_t ad_id, const std::string& advertiser,
                              const std::string& url) {
  return admin("PUT", "/api/v1/ads/" + std::to_string(ad_id),
               "{\"advertiserId\":\"" + advertiser + "\",\"url\":\"" + url + "\"}")
      .status;
}

long long click_server::counted_total(std::uint64_t ad_id) {
  const std::int64_t now = unix_now_s();
  const auto r = admin("GET", "/api/v1/ads/" + std::to_string(ad_id) + "/aggregates?from=" +
                                  std::to_string(now - 3600) + "&to=" + std::to_string(now + 3600));
  const auto p = r.body.find("\"total\":");
  return p == std::string::npos ? -1 : std::stoll(r.body.substr(p + 8));
}

long long click_server::wait_counted_total(std::uint64_t ad_id, long long want) {
  long long t = -1;
  for (int i = 0; i < 1500 && t != want; ++i) {
    t = counted_total(ad_id);
    if (t != want) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return t;
}

std::string click_server::click_path(std::uint64_t ad_id, const std::string& impression,
                                     std::int64_t expires_at_s) {
  static const ingest::signer signer({{"k1", "0123456789abcdef0123456789abcdef"}}, "k1", 86400);
  if (expires_at_s == 0) expires_at_s = unix_now_s() + 3600;
  return "/click?adId=" + std::to_string(ad_id) + "&impressionId=" + impression +
         "&signature=" + signer.sign(ad_id, impression, expires_at_s);
}

http_response click_server::click(std::uint64_t ad_id, const std::string& impression) {
  return http_get(port(), click_path(ad_id, impression));
}

double click_server::metric(const std::string& sample) {
  const auto r = http_get(port(), "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, sample.size(), sample) == 0 && line.size() > sample.size() &&
        line[sample.size()] == ' ') {
      return std::stod(line.substr(sample.size() + 1));
    }
  }
  return -1;
}

}  // namespace adclick::testutil
