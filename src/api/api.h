#pragma once
// adclick's HTTP API: the routes of /click, the admin endpoints and
// /metrics, on top of the http server's router. Handlers parse and validate
// the request, call the subsystem, and answer (JSON errors everywhere but the
// click path's redirects). Handlers that read or write disk run on the
// context's workers, never on an I/O thread.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/published.h"
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

// The bearer tokens of the query and admin APIs (auth.*).
struct credentials {
  std::string admin_token;
  std::map<std::string, std::string> advertiser_keys;  // advertiser id -> key
};

// What POST /api/v1/backups answers.
struct backup_answer {
  int status = 0;    // 201, or 400 / 409 / 500
  std::string body;  // 201: the manifest (JSON); otherwise the reason, one line
};

// What the routes call. Complete before add_routes(); constant afterwards.
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
  // Where the handlers that touch disk run; null: inline (tests, fuzzing).
  base::task_queue* workers = nullptr;
  // Makes a backup into a directory (blocking; run on a worker). Null: the
  // route answers 503 (a node on Kafka: the log is the topic).
  // `max_rate`: bytes/s the backup may read and copy (0: no limit).
  std::function<backup_answer(const std::string& path, std::uint64_t max_rate)> backup;
  // The bearer tokens; a config reload publishes new ones. Must be set.
  const base::published<credentials>* tokens = nullptr;
  // Where click URLs point: "http://127.0.0.1:8080" (no trailing slash).
  std::string public_base_url;
  // node.roles: a node without "front" answers /click 404 not_served; one
  // without "aggregate" the reconciliation routes; one without "query" the
  // aggregates, live and advertiser routes and the dashboard.
  bool serves_clicks = true;
  bool serves_aggregation = true;
  bool serves_queries = true;
};

// Registers every route. The context must outlive the server.
void add_routes(http::router& routes, const api_context& ctx);

// The routes served while the engine recovers: the same paths and methods,
// /metrics and the dashboard served, every other route answered 503
// not_ready. Needs no context.
void add_starting_routes(http::router& routes);

}  // namespace adclick::api
