// The route table: every route's method, path, metrics name and where its
// handler runs, bound once for the full API and once for the starting one.

#include "api/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/handlers.h"
#include "api/params.h"
#include "base/metrics.h"
#include "base/mutex.h"
#include "base/task_queue.h"

namespace adclick::api {
namespace {

enum class runs_on : std::uint8_t {
  io_thread,  // answers from memory, or hands off itself (the click path)
  workers,    // reads or writes disk: on ctx.workers
};

enum class role : std::uint8_t { any, front, aggregate, query };

struct route_spec {
  const char* method;
  const char* path;
  const char* name;  // the route label of its metrics
  handlers::handler_fn fn;
  runs_on where;
  bool prefix;          // path is a prefix ("/api/v1/ads/" serves "/api/v1/ads/42")
  bool while_starting;  // served before the engine has recovered (needs no context)
  role needs = role::any;  // node.roles
};

constexpr runs_on io = runs_on::io_thread;
constexpr runs_on workers = runs_on::workers;

// method, path, metrics name, handler, where it runs, prefix?, while starting?,
// the role it needs
const route_spec kRoutes[] = {
    {"GET", "/click", "click", handlers::click, io, false, false, role::front},
    {"GET", "/metrics", "metrics", handlers::metrics, io, false, true},
    {"GET", "/api/v1/hot-ads", "hot_ads", handlers::hot_ads, io, false, false},
    {"GET", "/api/v1/ads", "ads", handlers::list_ads, workers, false, false},
    {"GET", "/api/v1/me", "me", handlers::me, io, false, false},
    {"GET", "/api/v1/status", "status", handlers::status, workers, false, false},
    {"GET", "/", "dashboard", handlers::dashboard, io, false, true, role::query},
    {"GET", "/dashboard", "dashboard", handlers::dashboard, io, false, true, role::query},
    {"GET", "/dashboard/", "dashboard", handlers::dashboard, io, true, true, role::query},
    {"GET", "/api/v1/reconciliations", "reconciliations", handlers::reconciliations, workers, false,
     false, role::aggregate},
    {"POST", "/api/v1/reconciliations", "reconciliations", handlers::reconciliations, workers,
     false, false, role::aggregate},
    {"GET", "/api/v1/reconciliations/", "reconciliation", handlers::reconciliation, workers, true,
     false, role::aggregate},
    {"POST", "/api/v1/backups", "backups", handlers::backups, workers, false, false},
    {"GET", "/api/v1/advertisers/", "advertiser", handlers::advertiser, workers, true, false,
     role::query},
    {"GET", "/api/v1/ads/", "ad", handlers::ad, workers, true, false},
    {"PUT", "/api/v1/ads/", "ad", handlers::ad, workers, true, false},
    {"DELETE", "/api/v1/ads/", "ad", handlers::ad, workers, true, false},
    {"POST", "/api/v1/ads/", "ad", handlers::ad, workers, true, false},
};

struct route_stats {
  base::counter* by_class[5] = {};
  base::histogram* latency = nullptr;
};

// Every route is counted by status class and timed (dispatch to answer).
// One set of series per route name in the process: the starting and the
// full routes share it.
std::shared_ptr<const route_stats> stats_for(const char* route) {
  static base::mutex mu;
  static std::map<std::string, std::shared_ptr<const route_stats>, std::less<>> by_route;  // guarded by mu
  base::mutex_lock lock(mu);
  if (auto it = by_route.find(route); it != by_route.end()) return it->second;
  auto& reg = base::metrics();
  auto stats = std::make_shared<route_stats>();
  for (int c = 0; c < 5; ++c) {
    stats->by_class[c] = &reg.add_counter("adclick_http_requests_total", "HTTP requests by route and status class",
                                          fmt::format("route=\"{}\",code=\"{}xx\"", route, c + 1));
  }
  stats->latency = &reg.add_histogram("adclick_http_request_seconds",
                                      "From the request's dispatch to its answer, by route",
                                      fmt::format("route=\"{}\"", route));
  by_route.emplace(route, stats);
  return stats;
}

http::responder timed(std::shared_ptr<const route_stats> stats, http::responder respond) {
  return [stats = std::move(stats), t0 = std::chrono::steady_clock::now(),
          respond = std::move(respond)](http::response resp) {
    stats->latency->observe_ns(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()));
    stats->by_class[std::clamp(resp.status / 100, 1, 5) - 1]->add();
    respond(std::move(resp));
  };
}

void not_ready(const api_context&, const http::request&, http::responder&& respond) {
  respond(unavailable("not_ready", "recovery is still running; retry shortly", 1));
}

// Routes of a role this node does not have.
void not_served_front(const api_context&, const http::request&, http::responder&& respond) {
  respond(not_served("front"));
}
void not_served_aggregate(const api_context&, const http::request&, http::responder&& respond) {
  respond(not_served("aggregate"));
}
void not_served_query(const api_context&, const http::request&, http::responder&& respond) {
  respond(not_served("query"));
}

// Route handlers take the responder by rvalue: the click route moves it into
// its completion (no copy per click), the others just call it.
http::handler bind(const route_spec& r, handlers::handler_fn fn, const api_context& ctx) {
  auto stats = stats_for(r.name);
  if (r.where == runs_on::io_thread || ctx.workers == nullptr) {
    return [fn, &ctx, stats](const http::request& req, http::responder respond) {
      fn(ctx, req, timed(stats, std::move(respond)));
    };
  }
  // The request stays valid until the responder is called. A full queue
  // answers 503 at once.
  return [fn, &ctx, stats](const http::request& req, http::responder respond) {
    auto shared = std::make_shared<http::responder>(timed(stats, std::move(respond)));
    std::function<void()> task = [fn, &ctx, &req, shared] { fn(ctx, req, std::move(*shared)); };
    if (!ctx.workers->post(task)) {
      (*shared)(unavailable("overloaded", "too many requests in progress; retry shortly", 1));
    }
  };
}

void add(http::router& routes, const route_spec& r, http::handler h) {
  if (r.prefix) {
    routes.add_prefix(r.method, r.path, std::move(h));
  } else {
    routes.add(r.method, r.path, std::move(h));
  }
}

}  // namespace

void add_routes(http::router& routes, const api_context& ctx) {
  for (const auto& r : kRoutes) {
    auto fn = r.fn;
    if (r.needs == role::front && !ctx.serves_clicks) fn = not_served_front;
    if (r.needs == role::aggregate && !ctx.serves_aggregation) fn = not_served_aggregate;
    if (r.needs == role::query && !ctx.serves_queries) fn = not_served_query;
    add(routes, r, bind(r, fn, ctx));
  }
}

void add_starting_routes(http::router& routes) {
  static const api_context none;  // what while_starting routes are given
  for (const auto& r : kRoutes) add(routes, r, bind(r, r.while_starting ? r.fn : not_ready, none));
}

}  // namespace adclick::api
