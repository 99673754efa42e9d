#pragma once
// The real adclick binary with a test config, plus what click-path tests
// need: ad registration over the admin API and signed click paths.

#include <cstdint>
#include <memory>
#include <string>

#include "testutil/http_client.h"
#include "testutil/process.h"

namespace adclick::testutil {

class click_server {
 public:
  // Writes a config into `dir` (extra TOML appended, server_extra into
  // [server]) and starts the server on it.
  click_server(const std::string& dir, const std::string& extra = "",
               const std::string& server_extra = "");
  ~click_server();

  bool ready() const { return server_ && server_->ready(); }
  std::uint16_t port() const { return server_->port(); }
  process& proc() { return server_->proc(); }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_; }

  // Starts again on the same config and data (after a stop or kill).
  void restart();
  // SIGTERM and wait; returns the exit code (-1 on timeout).
  int stop();
  void kill();

  http_response admin(const std::string& method, const std::string& path,
                      const std::string& body = "");
  // PUT /api/v1/ads/{id}; returns the status.
  int register_ad(std::uint64_t ad_id, const std::string& advertiser, const std::string& url);
  // "/click?adId=..&impressionId=..&signature=.." signed with the test key.
  static std::string click_path(std::uint64_t ad_id, const std::string& impression,
                                std::int64_t expires_at_s = 0);
  http_response click(std::uint64_t ad_id, const std::string& impression);
  // "total" of ad_id's aggregates over the last and next hour, as the admin
  // sees it (-1 without an answer).
  long long counted_total(std::uint64_t ad_id);
  // The same, polled for up to 30 s until it is `want`; returns the last value.
  long long wait_counted_total(std::uint64_t ad_id, long long want);
  // The value of one sample line of /metrics (e.g. `adclick_clicks_total{outcome="counted"}`).
  double metric(const std::string& sample);

 private:
  std::string dir_;
  std::string config_;
  int starts_ = 0;
  std::unique_ptr<adclick_server> server_;
};

std::int64_t unix_now_s();

}  // namespace adclick::testutil
