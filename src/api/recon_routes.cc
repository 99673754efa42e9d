// The batch layer's routes (admin): ask for a reconciliation, list the
// reports, read one.

#include <fmt/format.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/params.h"
#include "base/decimal.h"
#include "base/floor_div.h"
#include "base/query_string.h"
#include "base/rfc3339.h"
#include "recon/reconciler.h"

namespace adclick::api::handlers {
namespace {

// A stored report as the API shows it: its fields, plus the range in RFC 3339.
json report_json(const std::string& stored) {
  json j = json::parse(stored, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json{{"error", "this report is damaged and cannot be shown"}};
  for (const char* k : {"requestedFrom", "requestedTo", "from", "to", "reconciledThrough"}) {
    const std::string ms_key = std::string(k) + "Ms";
    if (j.contains(ms_key) && j[ms_key].is_number_integer()) {
      j[k] = base::format_time(base::floor_div(j[ms_key].get<std::int64_t>(), 1000));
    }
  }
  return j;
}

// {"from", "to"}: RFC 3339 UTC times or Unix seconds, from < to.
problem parse_request(std::string_view text, std::int64_t& from_s, std::int64_t& to_s) {
  json body;
  if (auto p = parse_object(text, {"from", "to"}, body)) return p;
  std::int64_t* out[2] = {&from_s, &to_s};
  const char* names[2] = {"from", "to"};
  for (int i = 0; i < 2; ++i) {
    if (!body.contains(names[i])) return fmt::format("{} is missing", names[i]);
    const json& v = body[names[i]];
    std::optional<std::int64_t> parsed;
    if (v.is_string()) parsed = base::parse_time(v.get<std::string>());
    if (v.is_number_integer()) parsed = base::parse_time(std::to_string(v.get<std::int64_t>()));
    if (!parsed) return fmt::format("{} must be an RFC 3339 UTC time or Unix seconds", names[i]);
    *out[i] = *parsed;
  }
  if (from_s >= to_s) return "from must be before to";
  return {};
}

void request_run(const api_context& ctx, const http::request& req, const http::responder& respond) {
  std::int64_t from = 0, to = 0;
  if (auto p = parse_request(req.body, from, to)) return respond(bad_request(*p));
  auto r = ctx.reconciler->request(from * 1000, to * 1000, recon::trigger::api);
  if (!r) {
    if (r.error() == recon::reconciler_errc::queue_full) {
      return respond(unavailable("overloaded", r.error().message(), 60));
    }
    if (r.error() == recon::reconciler_errc::stopped) {
      return respond(http::json_error(503, "unavailable", r.error().message()));
    }
    return respond(internal_error(r.error()));
  }
  auto resp = json_response(202, report_json(recon::to_json(*r)));
  resp.headers.emplace_back("Location", fmt::format("/api/v1/reconciliations/{}", r->id));
  respond(std::move(resp));
}

// ?before&limit: newest first.
void list_runs(const api_context& ctx, const http::request& req, const http::responder& respond) {
  std::uint64_t before = 0, limit = 20;
  if (auto b = base::query_param(req.query, "before"); b && (!base::parse_u64(*b, before) || before == 0)) {
    return respond(bad_request("before must be a report id"));
  }
  if (auto p = parse_limit(req.query, limit)) return respond(bad_request(*p));
  json list = json::array();
  std::uint64_t last = 0;
  auto ec = ctx.reconciler->list_reports(before, limit, [&](std::uint64_t id, const std::string& text) {
    list.push_back(report_json(text));
    last = id;
  });
  if (ec) return respond(internal_error(ec));
  json body{{"reconciliations", list}};
  if (list.size() == limit && last > 1) body["next"] = last;
  respond(json_response(200, body));
}

http::response not_running() { return http::json_error(503, "unavailable", "reconciliation is not running"); }

}  // namespace

// POST /api/v1/reconciliations {"from","to"}; GET /api/v1/reconciliations[?before&limit]
void reconciliations(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  if (ctx.reconciler == nullptr) return respond(not_running());
  if (req.method == "POST") return request_run(ctx, req, respond);
  list_runs(ctx, req, respond);
}

// GET /api/v1/reconciliations/{id}
void reconciliation(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  constexpr std::string_view prefix = "/api/v1/reconciliations/";
  std::uint64_t id = 0;
  if (!base::parse_u64(req.path.substr(prefix.size()), id) || id == 0) {
    return respond(not_found("no such reconciliation"));
  }
  if (ctx.reconciler == nullptr) return respond(not_running());
  auto text = ctx.reconciler->stored_report(id);
  if (!text) return respond(internal_error(text.error()));
  if (!*text) return respond(not_found("no such reconciliation"));
  respond(json_response(200, report_json(**text)));
}

}  // namespace adclick::api::handlers
