// The ad routes: the admin's list, get, put, pause and click URLs of an ad;
// an ad's per-minute aggregates and live stream for its advertiser or the
// admin.

#include <algorithm>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/live_feed.h"
#include "api/params.h"
#include "base/decimal.h"
#include "base/duration.h"
#include "base/query_string.h"
#include "base/rfc3339.h"
#include "base/wall_time.h"
#include "ingest/ad_registry.h"
#include "ingest/signature.h"
#include "query/query_service.h"

namespace adclick::api::handlers {
namespace {

json ad_json(const state::ad_record& ad) {
  return json{{"adId", ad.ad_id},
              {"advertiserId", ad.advertiser_id},
              {"url", ad.url},
              {"status", ad.paused ? "paused" : "active"},
              {"updatedMs", ad.updated_ms}};
}

void get_ad(const api_context& ctx, std::uint64_t id, const http::responder& respond) {
  auto ad = ctx.ads->find(id);
  if (!ad) return respond(not_found("no such ad"));
  respond(json_response(200, ad_json(*ad)));
}

// PUT {"advertiserId", "url"}: a synced RocksDB write.
void put_ad(const api_context& ctx, std::uint64_t id, const http::request& req, const http::responder& respond) {
  json body;
  if (auto p = parse_object(req.body, {"advertiserId", "url"}, body)) return respond(bad_request(*p));
  if (!body.contains("advertiserId") || !body["advertiserId"].is_string() || !body.contains("url") ||
      !body["url"].is_string()) {
    return respond(bad_request("the body must be {\"advertiserId\": string, \"url\": string}"));
  }
  bool created = false;
  std::string why;
  auto ad = ctx.ads->put(id, body["advertiserId"].get<std::string>(), body["url"].get<std::string>(), created, why);
  if (!ad) return respond(why.empty() ? internal_error(ad.error()) : bad_request(why));
  respond(json_response(created ? 201 : 200, ad_json(*ad)));
}

// DELETE: pauses the ad (a synced RocksDB write); its clicks still redirect.
void pause_ad(const api_context& ctx, std::uint64_t id, const http::responder& respond) {
  auto ad = ctx.ads->pause(id);
  if (!ad) {
    if (ad.error() == ingest::registry_errc::not_found) return respond(not_found("no such ad"));
    return respond(internal_error(ad.error()));
  }
  respond(json_response(200, ad_json(*ad)));
}

// POST [{"count", "ttl"}]: signed click URLs for the ad.
void click_urls(const api_context& ctx, std::uint64_t id, const http::request& req, const http::responder& respond) {
  auto ad = ctx.ads->find(id);
  if (!ad) return respond(not_found("no such ad"));
  std::uint64_t count = 1;
  std::int64_t ttl_s = 3600;
  if (!req.body.empty()) {
    json body;
    if (auto p = parse_object(req.body, {"count", "ttl"}, body)) return respond(bad_request(*p));
    if (body.contains("count")) {
      if (!body["count"].is_number_unsigned() || body["count"].get<std::uint64_t>() < 1 ||
          body["count"].get<std::uint64_t>() > 10000) {
        return respond(bad_request("count must be an integer from 1 to 10000"));
      }
      count = body["count"].get<std::uint64_t>();
    }
    if (body.contains("ttl")) {
      if (!body["ttl"].is_string()) return respond(bad_request("ttl must be a duration such as \"1h\""));
      auto d = base::parse_duration(body["ttl"].get<std::string>());
      if (!d || d->count() < 1000 || d->count() / 1000 > ctx.signer->max_validity_s()) {
        return respond(bad_request("ttl must be a duration from 1s to signing.max_validity"));
      }
      ttl_s = d->count() / 1000;
    }
  }
  ttl_s = std::min(ttl_s, ctx.signer->max_validity_s());
  const std::int64_t exp = base::wall_now_s() + ttl_s;
  json urls = json::array();
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string imp = ingest::new_impression_id();
    urls.push_back(ctx.public_base_url + "/click?adId=" + std::to_string(id) + "&impressionId=" + imp +
                   "&signature=" + ctx.signer->sign(id, imp, exp));
  }
  respond(json_response(200, json{{"adId", id}, {"expiresAt", exp}, {"urls", urls}}));
}

// GET .../live?minutes=60 (Server-Sent Events; see live_feed.h)
void live(const api_context& ctx, std::uint64_t id, const caller& who, const http::request& req,
          const http::responder& respond) {
  std::uint64_t minutes = 60;
  if (auto m = base::query_param(req.query, "minutes");
      m && (!base::parse_u64(*m, minutes) || minutes == 0 || minutes > 1440)) {
    return respond(bad_request("minutes must be an integer from 1 to 1440"));
  }
  if (ctx.live == nullptr || !ctx.live->has_room()) {
    return respond(unavailable("unavailable", "too many live streams; retry shortly", 5));
  }
  http::response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.body = "retry: 2000\n\n";  // EventSource reconnects after 2 s
  // An advertiser's stream ends when the ad stops being theirs.
  live_feed::access_check allowed;
  if (who.kind == caller::advertiser) {
    allowed = [ads = ctx.ads, id, advertiser = who.advertiser_id] {
      auto ad = ads->find(id);
      return ad && ad->advertiser_id == advertiser;
    };
  }
  r.on_stream_open = [feed = ctx.live, id, minutes,
                      allowed = std::move(allowed)](std::shared_ptr<http::event_stream> stream) mutable {
    feed->subscribe(id, static_cast<std::int64_t>(minutes), std::move(stream), std::move(allowed));
  };
  respond(std::move(r));
}

// GET .../aggregates?from&to[&granularity][&format=json|csv]
void aggregates(const api_context& ctx, std::uint64_t id, const http::request& req, const http::responder& respond) {
  std::int64_t from = 0, to = 0;
  if (auto p = parse_range(req.query, from, to)) return respond(bad_request(*p));
  query::granularity g = query::granularity::minute;
  if (auto gs = base::query_param(req.query, "granularity")) {
    auto parsed = query::parse_granularity(*gs);
    if (!parsed) return respond(bad_request("granularity must be minute, hour or day"));
    g = *parsed;
  }
  const auto fmt_param = base::query_param(req.query, "format");
  if (fmt_param && *fmt_param != "json" && *fmt_param != "csv") {
    return respond(bad_request("format must be json or csv"));
  }
  const bool csv = (fmt_param && *fmt_param == "csv") ||
                   (!fmt_param && req.accept.find("text/csv") != std::string_view::npos);
  auto s = ctx.query->ad_series(id, from, to, g);
  if (!s) {
    if (s.error() == query::query_errc::too_many_points) {
      return respond(http::json_error(400, "too_many_points",
                                      "the range holds more buckets than query.max_points; use a "
                                      "coarser granularity or a shorter range"));
    }
    return respond(internal_error(s.error()));
  }
  http::response r;
  r.headers.emplace_back("Cache-Control", "no-store");
  if (csv) {
    r.content_type = "text/csv; charset=utf-8";
    r.body = std::string(query::to_string(g)) + ",clicks,state\n";
    for (const auto& p : s->points) {
      r.body += base::format_time(p.start_s) + "," + std::to_string(p.clicks) + "," +
                std::string(query::to_string(p.state)) + "\n";
    }
  } else {
    r.body = query::to_json(*s);
  }
  respond(std::move(r));
}

// .../aggregates and .../live: for the ad's advertiser or the admin.
void ad_data(const api_context& ctx, std::uint64_t id, std::string_view rest, const caller& who,
             const http::request& req, const http::responder& respond) {
  if (req.method != "GET") return respond(method_not_allowed("GET", "use GET"));
  if (who.kind == caller::none) return respond(unauthorized());
  auto ad = ctx.ads->find(id);
  // Another advertiser's ad looks exactly like an unknown one.
  if (!ad || (who.kind == caller::advertiser && ad->advertiser_id != who.advertiser_id)) {
    return respond(not_found("no such ad"));
  }
  if (rest == "/live") return live(ctx, id, who, req, respond);
  aggregates(ctx, id, req, respond);
}

}  // namespace

// GET /api/v1/ads?advertiserId&after&limit (admin)
void list_ads(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  std::uint64_t after = 0, limit = 100;
  const auto adv = base::query_param(req.query, "advertiserId").value_or("");
  if (auto a = base::query_param(req.query, "after"); a && !base::parse_u64(*a, after)) {
    return respond(bad_request("after must be an ad id"));
  }
  if (auto p = parse_limit(req.query, limit)) return respond(bad_request(*p));
  if (!adv.empty() && !ingest::valid_advertiser_id(adv)) return respond(bad_request("advertiserId is not valid"));
  auto ads = ctx.ads->list(adv, after, limit);
  if (!ads) return respond(internal_error(ads.error()));
  json list = json::array();
  for (const auto& a : *ads) list.push_back(ad_json(a));
  json body{{"ads", list}};
  if (ads->size() == limit) body["next"] = ads->back().ad_id;
  respond(json_response(200, body));
}

// /api/v1/ads/{adId}[/click-urls|/aggregates|/live]
void ad(const api_context& ctx, const http::request& req, http::responder&& respond) {
  std::uint64_t id = 0;
  std::string_view rest;
  if (!split_ad_path(req.path, "/api/v1/ads/", id, rest)) return respond(not_found("no such route or ad"));
  const caller who = authenticate(ctx, req.authorization);
  if (rest.empty()) {
    if (who.kind != caller::admin) return respond(unauthorized());
    if (req.method == "GET") return get_ad(ctx, id, respond);
    if (req.method == "PUT") return put_ad(ctx, id, req, respond);
    if (req.method == "DELETE") return pause_ad(ctx, id, respond);
    return respond(method_not_allowed("DELETE, GET, PUT", "use GET, PUT or DELETE"));
  }
  if (rest == "/click-urls") {
    if (req.method != "POST") return respond(method_not_allowed("POST", "use POST"));
    if (who.kind != caller::admin) return respond(unauthorized());
    return click_urls(ctx, id, req, respond);
  }
  if (rest == "/live" || rest == "/aggregates") {
    if (!ctx.serves_queries) return respond(not_served("query"));
    return ad_data(ctx, id, rest, who, req, respond);
  }
  respond(not_found("no such route"));
}

}  // namespace adclick::api::handlers
