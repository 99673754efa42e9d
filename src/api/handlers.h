#pragma once
// The API's handlers, one per route, in files by route family; api.cc binds
// them to methods and paths. Each is called once per request with the
// context given to add_routes, and answers through `respond` exactly once,
// from any thread; the request stays valid until then.

#include "api/api.h"
#include "http/request.h"
#include "http/response.h"

namespace adclick::api::handlers {

using handler_fn = void (*)(const api_context& ctx, const http::request& req, http::responder&& respond);

// click_routes.cc: GET /click
void click(const api_context& ctx, const http::request& req, http::responder&& respond);

// admin_routes.cc
void metrics(const api_context& ctx, const http::request& req, http::responder&& respond);  // GET /metrics
void hot_ads(const api_context& ctx, const http::request& req, http::responder&& respond);  // GET /api/v1/hot-ads
void status(const api_context& ctx, const http::request& req, http::responder&& respond);   // GET /api/v1/status
void me(const api_context& ctx, const http::request& req, http::responder&& respond);       // GET /api/v1/me

// dashboard_routes.cc: GET /, /dashboard, /dashboard/{file}
void dashboard(const api_context& ctx, const http::request& req, http::responder&& respond);

// ad_routes.cc: GET /api/v1/ads; /api/v1/ads/{adId}[/click-urls|/aggregates|/live]
void list_ads(const api_context& ctx, const http::request& req, http::responder&& respond);
void ad(const api_context& ctx, const http::request& req, http::responder&& respond);

// advertiser_routes.cc: GET /api/v1/advertisers/{advertiserId}/ads/aggregates
void advertiser(const api_context& ctx, const http::request& req, http::responder&& respond);

// recon_routes.cc: GET and POST /api/v1/reconciliations; GET .../{id}
void reconciliations(const api_context& ctx, const http::request& req, http::responder&& respond);
void reconciliation(const api_context& ctx, const http::request& req, http::responder&& respond);

// backup_routes.cc: POST /api/v1/backups
void backups(const api_context& ctx, const http::request& req, http::responder&& respond);

}  // namespace adclick::api::handlers
