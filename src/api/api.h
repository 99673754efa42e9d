#pragma once
// adclick's HTTP API: the routes of /click, the admin endpoints and
// /metrics, on top of the http server's router. Handlers parse and validate
// the request, call the subsystem, and answer (JSON errors everywhere but the
// click path's redirects).

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "http/router.h"

namespace adclick::ingest {
class click_processor;
class ad_registry;
class partitioner;
class signer;
}  // namespace adclick::ingest
namespace adclick::agg {
class aggregator;
}
namespace adclick::query {
class query_service;
}
namespace adclick::recon {
class reconciler;
}
namespace adclick::base {
class task_queue;
}
namespace adclick::log {
class click_log;
}

namespace adclick::api {

class live_feed;

struct api_context {
  ingest::click_processor* clicks = nullptr;
  ingest::ad_registry* ads = nullptr;
  ingest::partitioner* partitioner = nullptr;
  const ingest::signer* signer = nullptr;
  agg::aggregator* aggregator = nullptr;  // may be null
  recon::reconciler* reconciler = nullptr;  // may be null: /api/v1/reconciliations answers 503
  live_feed* live = nullptr;                // may be null: .../live answers 503
  query::query_service* query = nullptr;
  const log::click_log* log = nullptr;  // may be null: no logHoles in the status
  // Where query work runs (never on an I/O thread); null: inline.
  base::task_queue* query_workers = nullptr;
  std::string admin_token;
  // advertiser id -> key
  std::map<std::string, std::string> advertiser_keys;
  // Where click URLs point: "http://127.0.0.1:8080" (no trailing slash).
  std::string public_base_url;
  // Routes answer 503 until this is true (the pointers above are set first).
  const std::atomic<bool>* ready = nullptr;
};

// Registers every route. The context must outlive the server.
void add_routes(http::router& routes, const api_context& ctx);

// Who a bearer token belongs to.
struct caller {
  enum kind_t { none, admin, advertiser } kind = none;
  std::string advertiser_id;
};
// Compares in constant time per candidate.
caller authenticate(const api_context& ctx, std::string_view authorization_header);

}  // namespace adclick::api
