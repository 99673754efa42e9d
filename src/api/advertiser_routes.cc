// GET /api/v1/advertisers/{advertiserId}/ads/aggregates?from&to&limit&after:
// an advertiser's ads ranked by clicks over a range, a page at a time.

#include "api/auth.h"
#include "api/handlers.h"
#include "api/params.h"
#include "base/decimal.h"
#include "base/query_string.h"
#include "base/rfc3339.h"
#include "ingest/ad_registry.h"
#include "query/query_service.h"

namespace adclick::api::handlers {
namespace {

// after = "{clicks}_{adId}" of the last item of the previous page.
problem parse_cursor(std::string_view query, std::optional<query::ranking_cursor>& after) {
  auto a = base::query_param(query, "after");
  if (!a) return {};
  const auto us = a->find('_');
  std::uint64_t clicks = 0, id = 0;
  if (us == std::string_view::npos || !base::parse_u64(a->substr(0, us), clicks) ||
      !base::parse_u64(a->substr(us + 1), id)) {
    return "after must be the cursor of a previous page";
  }
  after = query::ranking_cursor{clicks, id};
  return {};
}

void totals(const api_context& ctx, std::string_view adv, const http::request& req, const http::responder& respond) {
  std::int64_t from = 0, to = 0;
  if (auto p = parse_range(req.query, from, to)) return respond(bad_request(*p));
  std::uint64_t limit = 100;
  if (auto p = parse_limit(req.query, limit)) return respond(bad_request(*p));
  std::optional<query::ranking_cursor> after;
  if (auto p = parse_cursor(req.query, after)) return respond(bad_request(*p));
  auto page = ctx.query->advertiser_ranking(adv, from, to, after, limit);
  if (!page) return respond(internal_error(page.error()));
  json items = json::array();
  for (const auto& t : page->ads) items.push_back({{"adId", t.ad_id}, {"clicks", t.clicks}});
  const auto final_through = ctx.query->final_through_s();
  json body{{"advertiserId", adv},
            {"from", base::format_time(from)},
            {"to", base::format_time(to)},
            {"ads", items},
            {"total", page->total},
            {"finalThrough", final_through ? json(base::format_time(*final_through)) : json(nullptr)}};
  if (page->next) body["next"] = std::to_string(page->next->clicks) + "_" + std::to_string(page->next->ad_id);
  respond(json_response(200, body));
}

}  // namespace

void advertiser(const api_context& ctx, const http::request& req, http::responder&& respond) {
  constexpr std::string_view prefix = "/api/v1/advertisers/";
  std::string_view rest = req.path.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string_view adv = rest.substr(0, slash);
  if (slash == std::string_view::npos || rest.substr(slash) != "/ads/aggregates" ||
      !ingest::valid_advertiser_id(adv)) {
    return respond(not_found("no such route"));
  }
  const caller who = authenticate(ctx, req.authorization);
  if (who.kind == caller::none) return respond(unauthorized());
  if (who.kind == caller::advertiser && who.advertiser_id != adv) return respond(not_found("no such advertiser"));
  totals(ctx, adv, req, respond);
}

}  // namespace adclick::api::handlers
