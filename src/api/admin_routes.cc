// The operator's routes: /metrics, the hot ads, the engine's status and who
// a key belongs to.

#include <algorithm>

#include "adclick/click_log.h"
#include "agg/aggregator.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "api/params.h"
#include "base/event_clock.h"
#include "base/metrics.h"
#include "base/rfc3339.h"
#include "ingest/partitioner.h"
#include "query/query_service.h"

namespace adclick::api::handlers {
namespace {

json time_or_null(const std::optional<std::int64_t>& t) { return t ? json(base::format_time(*t)) : json(nullptr); }

json shards_json(const agg::aggregator& aggregator) {
  json shards = json::array();
  for (const auto& sh : aggregator.status()) {
    json parts = json::array();
    std::uint64_t lag = 0;
    for (const auto& p : sh.partitions) {
      parts.push_back({{"partition", p.partition}, {"durableEnd", p.durable_end},
                       {"position", p.position}, {"committed", p.committed}});
      lag += p.durable_end - std::min(p.durable_end, p.committed);
    }
    shards.push_back({{"shard", sh.shard},
                      {"watermark", sh.watermark_ms == INT64_MIN ? json(nullptr)
                                                                 : json(base::format_time(sh.watermark_ms / 1000))},
                      {"lagRecords", lag},
                      {"recordsApplied", sh.records_applied},
                      {"lateRecords", sh.late_records},
                      {"commits", sh.commits},
                      {"commitFailures", sh.commit_failures},
                      {"partitions", parts}});
  }
  return shards;
}

// Offsets the log lost before they were reconciled: their minutes are never
// reported as checked by a reconciliation.
json holes_json(const log::click_log& lg) {
  json holes = json::array();
  for (log::partition_id p = 0; p < lg.partitions(); ++p) {
    for (const auto& h : lg.holes(p)) {
      holes.push_back({{"partition", h.partition},
                       {"fromOffset", h.from},
                       {"toOffset", h.to},
                       {"records", h.to - h.from},
                       {"after", h.after_event_ms == INT64_MIN ? json(nullptr)
                                                               : json(base::format_time(h.after_event_ms / 1000))},
                       {"foundAt", base::format_time(h.found_ms / 1000)}});
    }
  }
  return holes;
}

}  // namespace

void metrics(const api_context&, const http::request&, http::responder&& respond) {
  http::response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = base::metrics().render();
  respond(std::move(r));
}

void hot_ads(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  json list = json::array();
  for (const auto& h : ctx.partitioner->hot_ads(base::event_now_ms())) {
    list.push_back({{"adId", h.ad_id}, {"clicksPerSecond", h.clicks_per_second}, {"configured", h.configured}});
  }
  respond(json_response(200, json{{"hotAds", list}}));
}

// The speed layer's shards with their watermark and, per partition, the
// log's durable end, the shard's read position and committed offset (lag =
// durable end - committed).
void status(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  respond(json_response(200, json{{"shards", ctx.aggregator != nullptr ? shards_json(*ctx.aggregator) : json::array()},
                                  {"logHoles", ctx.log != nullptr ? holes_json(*ctx.log) : json::array()},
                                  {"finalThrough", time_or_null(ctx.query->final_through_s())},
                                  {"reconciledThrough", time_or_null(ctx.query->reconciled_through_s())}}));
}

// The dashboard's sign-in.
void me(const api_context& ctx, const http::request& req, http::responder&& respond) {
  const caller who = authenticate(ctx, req.authorization);
  if (who.kind == caller::none) return respond(unauthorized());
  if (who.kind == caller::admin) return respond(json_response(200, json{{"role", "admin"}}));
  respond(json_response(200, json{{"role", "advertiser"}, {"advertiserId", who.advertiser_id}}));
}

}  // namespace adclick::api::handlers
