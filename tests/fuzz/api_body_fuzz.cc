// JSON request bodies: the first byte picks the route, the rest is the body,
// sent with the admin token: PUT /api/v1/ads/{id}, POST
// /api/v1/ads/{id}/clickUrls, POST /api/v1/reconciliations; or the rest as
// the query string of an ad's aggregates.

#include "fuzz_app.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  if (size == 0) return 0;
  auto& app = fuzz::app();
  const std::string_view body = fuzz::as_text(data + 1, size - 1);
  const std::string auth = std::string("Bearer ") + fuzz::kAdminToken;
  http::request r;
  r.authorization = auth;
  r.content_type = "application/json";
  r.client_addr = {127, 0, 0, 1};
  r.client_family = 4;
  std::string target;
  switch (data[0] % 4) {
    case 0:  // create or replace an ad (ids 10..19, so the demo ads stay)
      r.method = "PUT";
      target = "/api/v1/ads/" + std::to_string(10 + (size % 10));
      r.body = body;
      break;
    case 1:
      r.method = "POST";
      target = "/api/v1/ads/1/clickUrls";
      r.body = body;
      break;
    case 2:
      r.method = "POST";
      target = "/api/v1/reconciliations";
      r.body = body;
      break;
    default:  // the body as the aggregates query string
      r.method = "GET";
      target = "/api/v1/ads/1/aggregates?" + std::string(body);
      break;
  }
  r.target = target;
  const http::response resp = app.call(r);
  if (data[0] % 4 == 0 && resp.status / 100 == 2) {
    fuzz::require(resp.body.find("\"url\"") != std::string::npos, "a stored ad is echoed");
  }
  return 0;
}
