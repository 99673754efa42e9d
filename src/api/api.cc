#include "api/api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "adclick/click_log.h"
#include "agg/aggregator.h"
#include "api/live_feed.h"
#include "api/web_assets.h"
#include "base/ad_id.h"
#include "base/decimal.h"
#include "base/duration.h"
#include "base/event_clock.h"
#include "base/floor_div.h"
#include "base/metrics.h"
#include "base/query_string.h"
#include "base/rfc3339.h"
#include "base/task_queue.h"
#include "base/wall_time.h"
#include "http/response.h"
#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"
#include "query/query_service.h"
#include "recon/reconciler.h"

namespace adclick::api {
namespace {

using json = nlohmann::ordered_json;  // keys in the order written


bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

http::response json_response(int status, const json& body) {
  http::response r;
  r.status = status;
  r.body = body.dump();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::response unauthorized() {
  auto r = http::json_error(401, "unauthorized", "a valid bearer token is required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

json ad_json(const state::ad_record& ad) {
  return json{{"adId", ad.ad_id},
              {"advertiserId", ad.advertiser_id},
              {"url", ad.url},
              {"status", ad.paused ? "paused" : "active"},
              {"updatedMs", ad.updated_ms}};
}

// "/api/v1/ads/{id}[/rest]" -> id and rest.
bool split_ad_path(std::string_view path, std::uint64_t& id, std::string_view& rest) {
  constexpr std::string_view prefix = "/api/v1/ads/";
  if (path.substr(0, prefix.size()) != prefix) return false;
  path.remove_prefix(prefix.size());
  const auto slash = path.find('/');
  const std::string_view id_text = path.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  const auto parsed = base::parse_ad_id(id_text);
  if (parsed) id = *parsed;
  return parsed.has_value();
}

struct route_stats {
  base::counter* by_class[5] = {};
  base::histogram* latency = nullptr;
};

class routes_impl {
 public:
  explicit routes_impl(const api_context& ctx) : ctx_(ctx) {}

  // False (and answered 503) until the engine has recovered.
  bool ready(const http::responder& respond) const {
    if (ctx_.ready != nullptr && ctx_.ready->load(std::memory_order_acquire)) return true;
    auto r = http::json_error(503, "not_ready", "recovery is still running; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    respond(std::move(r));
    return false;
  }

  void click(const http::request& req, http::responder&& respond) {
    ingest::click_context c;
    c.now_ms = base::event_now_ms();  // the click's event time: step-safe
    c.user_agent = req.user_agent;
    c.client.family = req.client_family;
    std::copy(req.client_addr.begin(), req.client_addr.end(), c.client.bytes.begin());
    ctx_.clicks->process(req.query, c, [respond = std::move(respond)](const ingest::click_result& r) {
      http::response resp;
      resp.headers.emplace_back("Cache-Control", "no-store");
      switch (r.outcome) {
        case ingest::click_outcome::malformed:
          resp = http::json_error(400, "malformed", r.reason);
          resp.headers.emplace_back("Cache-Control", "no-store");
          break;
        case ingest::click_outcome::unknown_ad:
          resp.status = 404;
          resp.content_type = "text/html; charset=utf-8";
          resp.body = "<!doctype html><title>Not found</title><p>This ad does not exist.</p>\n";
          break;
        default: {
          // Every other outcome redirects; only the ad registry chooses where.
          const std::string& url = r.ad->url;
          resp.status = 302;
          resp.headers.emplace_back("Location", url);
          resp.content_type = "text/html; charset=utf-8";
          const std::string esc = html_escape(url);
          resp.body = "<!doctype html><title>Redirecting</title><a href=\"" + esc + "\">" + esc +
                      "</a>\n";
          break;
        }
      }
      respond(std::move(resp));
    });
  }

  void metrics(const http::request&, http::responder&& respond) {
    http::response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = base::metrics().render();
    respond(std::move(r));
  }

  void hot_ads(const http::request& req, http::responder&& respond) {
    if (authenticate(ctx_, req.authorization).kind != caller::admin) return respond(unauthorized());
    json list = json::array();
    for (const auto& h : ctx_.partitioner->hot_ads(base::event_now_ms())) {
      list.push_back({{"adId", h.ad_id}, {"clicksPerSecond", h.clicks_per_second},
                      {"configured", h.configured}});
    }
    respond(json_response(200, json{{"hotAds", list}}));
  }

  // The dashboard: static files built into the binary, with headers that
  // keep it from being framed, sniffed or fed inline script.
  static void dashboard_headers(http::response& r) {
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Cache-Control", "no-cache");
  }

  static http::response redirect(std::string location) {
    http::response r;
    r.status = 302;
    r.content_type.clear();
    r.headers.emplace_back("Location", std::move(location));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  // GET / and /dashboard: to /dashboard/; GET /dashboard/{file}
  void dashboard(const http::request& req, http::responder&& respond) {
    if (req.path == "/" || req.path == "/dashboard") return respond(redirect("/dashboard/"));
    std::string_view file = req.path.substr(std::string_view("/dashboard/").size());
    if (file.empty()) file = "index.html";
    for (const auto& a : web_assets()) {
      if (a.path != file) continue;
      http::response r;
      r.content_type = std::string(a.content_type);
      r.body.assign(a.bytes.data(), a.bytes.size());
      dashboard_headers(r);
      return respond(std::move(r));
    }
    auto r = http::json_error(404, "not_found", "no such file");
    dashboard_headers(r);
    respond(std::move(r));
  }

  // GET /api/v1/status (admin): the speed layer's shards with their
  // watermark and, per partition, the log's durable end, the shard's read
  // position and committed offset (lag = durable end - committed).
  void status(const http::request& req, http::responder&& respond) {
    if (authenticate(ctx_, req.authorization).kind != caller::admin) return respond(unauthorized());
    json shards = json::array();
    if (ctx_.aggregator != nullptr) {
      for (const auto& sh : ctx_.aggregator->status()) {
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
    }
    auto time_or_null = [](const std::optional<std::int64_t>& t) {
      return t ? json(base::format_time(*t)) : json(nullptr);
    };
    // Offsets the log lost before they were reconciled: their minutes are
    // never reported as checked by a reconciliation.
    json holes = json::array();
    if (ctx_.log != nullptr) {
      for (log::partition_id p = 0; p < ctx_.log->partitions(); ++p) {
        for (const auto& h : ctx_.log->holes(p)) {
          holes.push_back({{"partition", h.partition},
                           {"fromOffset", h.from},
                           {"toOffset", h.to},
                           {"records", h.to - h.from},
                           {"after", h.after_event_ms == INT64_MIN
                                         ? json(nullptr)
                                         : json(base::format_time(h.after_event_ms / 1000))},
                           {"foundAt", base::format_time(h.found_ms / 1000)}});
        }
      }
    }
    respond(json_response(200, json{{"shards", shards},
                                    {"logHoles", holes},
                                    {"finalThrough", time_or_null(ctx_.query->final_through_s())},
                                    {"reconciledThrough", time_or_null(ctx_.query->reconciled_through_s())}}));
  }

  // GET /api/v1/me: who the bearer key belongs to (the dashboard's sign-in).
  void me(const http::request& req, http::responder&& respond) {
    const caller who = authenticate(ctx_, req.authorization);
    if (who.kind == caller::none) return respond(unauthorized());
    if (who.kind == caller::admin) return respond(json_response(200, json{{"role", "admin"}}));
    respond(json_response(200, json{{"role", "advertiser"}, {"advertiserId", who.advertiser_id}}));
  }

  // GET /api/v1/ads/{adId}/live?minutes=60 (Server-Sent Events; see live_feed.h)
  void live(std::uint64_t id, const caller& who, const http::request& req, const http::responder& respond) {
    std::uint64_t minutes = 60;
    if (auto m = base::query_param(req.query, "minutes"); m && (!base::parse_u64(*m, minutes) || minutes == 0 || minutes > 1440)) {
      return respond(http::json_error(400, "bad_request", "minutes must be an integer from 1 to 1440"));
    }
    if (ctx_.live == nullptr || !ctx_.live->has_room()) {
      auto e = http::json_error(503, "unavailable", "too many live streams; retry shortly");
      e.headers.emplace_back("Retry-After", "5");
      return respond(std::move(e));
    }
    http::response r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("X-Accel-Buffering", "no");
    r.body = "retry: 2000\n\n";  // EventSource reconnects after 2 s
    // An advertiser's stream ends when the ad stops being theirs.
    live_feed::access_check allowed;
    if (who.kind == caller::advertiser) {
      allowed = [ads = ctx_.ads, id, advertiser = who.advertiser_id] {
        auto ad = ads->find(id);
        return ad && ad->advertiser_id == advertiser;
      };
    }
    r.on_stream_open = [feed = ctx_.live, id, minutes,
                        allowed = std::move(allowed)](std::shared_ptr<http::event_stream> stream) mutable {
      feed->subscribe(id, static_cast<std::int64_t>(minutes), std::move(stream), std::move(allowed));
    };
    respond(std::move(r));
  }

  // A stored report as the API shows it: its fields, plus the range in RFC 3339.
  static json report_json(const std::string& stored) {
    json j = json::parse(stored, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return json{{"error", "this report is damaged and cannot be shown"}};
    }
    for (const char* k : {"requestedFrom", "requestedTo", "from", "to"}) {
      const std::string ms_key = std::string(k) + "Ms";
      if (j.contains(ms_key) && j[ms_key].is_number_integer()) {
        j[k] = base::format_time(base::floor_div(j[ms_key].get<std::int64_t>(), 1000));
      }
    }
    if (j.contains("reconciledThroughMs") && j["reconciledThroughMs"].is_number_integer()) {
      j["reconciledThrough"] = base::format_time(base::floor_div(j["reconciledThroughMs"].get<std::int64_t>(), 1000));
    }
    return j;
  }

  // POST /api/v1/reconciliations {"from","to"}; GET /api/v1/reconciliations[?before&limit]
  void reconciliations(const http::request& req, http::responder&& respond) {
    if (authenticate(ctx_, req.authorization).kind != caller::admin) return respond(unauthorized());
    if (ctx_.reconciler == nullptr) {
      return respond(http::json_error(503, "unavailable", "reconciliation is not running"));
    }
    if (req.method == "POST") {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) {
        return respond(http::json_error(400, "bad_request", "the body must be a JSON object {\"from\",\"to\"}"));
      }
      std::int64_t t[2] = {0, 0};
      const char* names[2] = {"from", "to"};
      for (int i = 0; i < 2; ++i) {
        if (!body.contains(names[i])) {
          return respond(http::json_error(400, "bad_request", fmt::format("{} is missing", names[i])));
        }
        const json& v = body[names[i]];
        std::optional<std::int64_t> parsed;
        if (v.is_string()) parsed = base::parse_time(v.get<std::string>());
        if (v.is_number_integer()) parsed = base::parse_time(std::to_string(v.get<std::int64_t>()));
        if (!parsed) {
          return respond(http::json_error(
              400, "bad_request", fmt::format("{} must be an RFC 3339 UTC time or Unix seconds", names[i])));
        }
        t[i] = *parsed;
      }
      if (t[0] >= t[1]) return respond(http::json_error(400, "bad_request", "from must be before to"));
      for (const auto& [k, v] : body.items()) {
        if (k != "from" && k != "to") {
          return respond(http::json_error(400, "bad_request", fmt::format("unknown field {}", k)));
        }
      }
      auto r = ctx_.reconciler->request(t[0] * 1000, t[1] * 1000, recon::trigger::api);
      if (!r) {
        if (r.error() == recon::reconciler_errc::queue_full) {
          auto e = http::json_error(503, "overloaded", r.error().message());
          e.headers.emplace_back("Retry-After", "60");
          return respond(std::move(e));
        }
        if (r.error() == recon::reconciler_errc::stopped) {
          return respond(http::json_error(503, "unavailable", r.error().message()));
        }
        return respond(http::json_error(500, "internal", r.error().message()));
      }
      auto resp = json_response(202, report_json(recon::to_json(*r)));
      resp.headers.emplace_back("Location", fmt::format("/api/v1/reconciliations/{}", r->id));
      return respond(std::move(resp));
    }
    std::uint64_t before = 0, limit = 20;
    if (auto b = base::query_param(req.query, "before"); b && (!base::parse_u64(*b, before) || before == 0)) {
      return respond(http::json_error(400, "bad_request", "before must be a report id"));
    }
    if (auto l = base::query_param(req.query, "limit"); l && (!base::parse_u64(*l, limit) || limit == 0 || limit > 1000)) {
      return respond(http::json_error(400, "bad_request", "limit must be an integer from 1 to 1000"));
    }
    json list = json::array();
    std::uint64_t last = 0;
    auto ec = ctx_.reconciler->list_reports(before, limit, [&](std::uint64_t id, const std::string& text) {
      list.push_back(report_json(text));
      last = id;
    });
    if (ec) return respond(http::json_error(500, "internal", ec.message()));
    json body{{"reconciliations", list}};
    if (list.size() == limit && last > 1) body["next"] = last;
    respond(json_response(200, body));
  }

  // GET /api/v1/reconciliations/{id}
  void reconciliation(const http::request& req, http::responder&& respond) {
    if (authenticate(ctx_, req.authorization).kind != caller::admin) return respond(unauthorized());
    constexpr std::string_view prefix = "/api/v1/reconciliations/";
    std::uint64_t id = 0;
    if (!base::parse_u64(req.path.substr(prefix.size()), id) || id == 0) {
      return respond(http::json_error(404, "not_found", "no such reconciliation"));
    }
    if (ctx_.reconciler == nullptr) {
      return respond(http::json_error(503, "unavailable", "reconciliation is not running"));
    }
    auto text = ctx_.reconciler->stored_report(id);
    if (!text) return respond(http::json_error(500, "internal", text.error().message()));
    if (!*text) return respond(http::json_error(404, "not_found", "no such reconciliation"));
    respond(json_response(200, report_json(**text)));
  }

  void list_ads(const http::request& req, http::responder&& respond) {
    if (authenticate(ctx_, req.authorization).kind != caller::admin) return respond(unauthorized());
    std::uint64_t after = 0, limit = 100;
    const auto adv = base::query_param(req.query, "advertiserId").value_or("");
    if (auto a = base::query_param(req.query, "after"); a && !base::parse_u64(*a, after)) {
      return respond(http::json_error(400, "bad_request", "after must be an ad id"));
    }
    if (auto l = base::query_param(req.query, "limit"); l && (!base::parse_u64(*l, limit) || limit == 0 || limit > 1000)) {
      return respond(http::json_error(400, "bad_request", "limit must be an integer from 1 to 1000"));
    }
    if (!adv.empty() && !ingest::valid_advertiser_id(adv)) {
      return respond(http::json_error(400, "bad_request", "advertiserId is not valid"));
    }
    auto ads = ctx_.ads->list(adv, after, limit);
    if (!ads) return respond(http::json_error(500, "internal", ads.error().message()));
    json list = json::array();
    for (const auto& a : *ads) list.push_back(ad_json(a));
    json body{{"ads", list}};
    if (ads->size() == limit) body["next"] = ads->back().ad_id;
    respond(json_response(200, body));
  }

  void ad_route(const http::request& req, http::responder&& respond) {
    std::uint64_t id = 0;
    std::string_view rest;
    if (!split_ad_path(req.path, id, rest)) {
      return respond(http::json_error(404, "not_found", "no such route or ad"));
    }
    const caller who = authenticate(ctx_, req.authorization);
    if (rest.empty()) {
      if (who.kind != caller::admin) return respond(unauthorized());
      if (req.method == "GET") return get_ad(id, respond);
      if (req.method == "PUT") return put_ad(id, req, respond);
      if (req.method == "DELETE") return pause_ad(id, respond);
    } else if (rest == "/click-urls" && req.method == "POST") {
      if (who.kind != caller::admin) return respond(unauthorized());
      return click_urls(id, req, respond);
    }
    if (rest == "/live" || rest == "/aggregates") {
      if (req.method != "GET") {
        auto r = http::json_error(405, "method_not_allowed", "use GET");
        r.headers.emplace_back("Allow", "GET");
        return respond(std::move(r));
      }
      if (who.kind == caller::none) return respond(unauthorized());
      auto ad = ctx_.ads->find(id);
      // Another advertiser's ad looks exactly like an unknown one.
      if (!ad || (who.kind == caller::advertiser && ad->advertiser_id != who.advertiser_id)) {
        return respond(http::json_error(404, "not_found", "no such ad"));
      }
      if (rest == "/live") return live(id, who, req, respond);
      return offload(respond, [this, id, &req](const http::responder& r) { aggregates(id, req, r); });
    }
    if (rest == "/click-urls") {
      auto r = http::json_error(405, "method_not_allowed", "use POST");
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    if (rest.empty()) {
      auto r = http::json_error(405, "method_not_allowed", "use GET, PUT or DELETE");
      r.headers.emplace_back("Allow", "DELETE, GET, PUT");
      return respond(std::move(r));
    }
    respond(http::json_error(404, "not_found", "no such route"));
  }

 private:
  void get_ad(std::uint64_t id, const http::responder& respond) {
    auto ad = ctx_.ads->find(id);
    if (!ad) return respond(http::json_error(404, "not_found", "no such ad"));
    respond(json_response(200, ad_json(*ad)));
  }

  void put_ad(std::uint64_t id, const http::request& req, const http::responder& respond) {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception&) {
      return respond(http::json_error(400, "bad_request", "the body must be a JSON object"));
    }
    if (!body.is_object() || !body.contains("advertiserId") || !body["advertiserId"].is_string() ||
        !body.contains("url") || !body["url"].is_string()) {
      return respond(http::json_error(
          400, "bad_request", "the body must be {\"advertiserId\": string, \"url\": string}"));
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (it.key() != "advertiserId" && it.key() != "url") {
        return respond(http::json_error(400, "bad_request", "unknown field '" + it.key() + "'"));
      }
    }
    bool created = false;
    std::string why;
    auto ad = ctx_.ads->put(id, body["advertiserId"].get<std::string>(),
                            body["url"].get<std::string>(), created, why);
    if (!ad) {
      if (why.empty()) return respond(http::json_error(500, "internal", ad.error().message()));
      return respond(http::json_error(400, "bad_request", why));
    }
    respond(json_response(created ? 201 : 200, ad_json(*ad)));
  }

  void pause_ad(std::uint64_t id, const http::responder& respond) {
    auto ad = ctx_.ads->pause(id);
    if (!ad) {
      if (ad.error() == ingest::registry_errc::not_found) {
        return respond(http::json_error(404, "not_found", "no such ad"));
      }
      return respond(http::json_error(500, "internal", ad.error().message()));
    }
    respond(json_response(200, ad_json(*ad)));
  }

  void click_urls(std::uint64_t id, const http::request& req, const http::responder& respond) {
    auto ad = ctx_.ads->find(id);
    if (!ad) return respond(http::json_error(404, "not_found", "no such ad"));
    std::uint64_t count = 1;
    std::int64_t ttl_s = 3600;
    if (!req.body.empty()) {
      json body;
      try {
        body = json::parse(req.body);
      } catch (const json::exception&) {
        return respond(http::json_error(400, "bad_request", "the body must be a JSON object"));
      }
      if (!body.is_object()) {
        return respond(http::json_error(400, "bad_request", "the body must be a JSON object"));
      }
      if (body.contains("count")) {
        if (!body["count"].is_number_unsigned() || body["count"].get<std::uint64_t>() < 1 ||
            body["count"].get<std::uint64_t>() > 10000) {
          return respond(http::json_error(400, "bad_request", "count must be an integer from 1 to 10000"));
        }
        count = body["count"].get<std::uint64_t>();
      }
      if (body.contains("ttl")) {
        if (!body["ttl"].is_string()) {
          return respond(http::json_error(400, "bad_request", "ttl must be a duration such as \"1h\""));
        }
        auto d = base::parse_duration(body["ttl"].get<std::string>());
        if (!d || d->count() < 1000 || d->count() / 1000 > ctx_.signer->max_validity_s()) {
          return respond(http::json_error(
              400, "bad_request", "ttl must be a duration from 1s to signing.max_validity"));
        }
        ttl_s = d->count() / 1000;
      }
      for (auto it = body.begin(); it != body.end(); ++it) {
        if (it.key() != "count" && it.key() != "ttl") {
          return respond(http::json_error(400, "bad_request", "unknown field '" + it.key() + "'"));
        }
      }
    }
    ttl_s = std::min(ttl_s, ctx_.signer->max_validity_s());
    const std::int64_t exp = base::wall_now_s() + ttl_s;
    json urls = json::array();
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::string imp = ingest::new_impression_id();
      urls.push_back(ctx_.public_base_url + "/click?adId=" + std::to_string(id) +
                     "&impressionId=" + imp + "&signature=" + ctx_.signer->sign(id, imp, exp));
    }
    respond(json_response(200, json{{"adId", id}, {"expiresAt", exp}, {"urls", urls}}));
  }

  // Runs a query on the query workers; the request stays valid until the
  // responder is called. A full queue answers 503 at once.
  template <class F>
  void offload(const http::responder& respond, F work) {
    if (ctx_.query_workers == nullptr) return work(respond);
    auto shared = std::make_shared<http::responder>(respond);
    std::function<void()> task = [shared, work]() mutable { work(*shared); };
    if (!ctx_.query_workers->post(task)) {
      auto r = http::json_error(503, "overloaded", "too many queries in progress; retry shortly");
      r.headers.emplace_back("Retry-After", "1");
      (*shared)(std::move(r));
    }
  }

  // Parses from, to (and granularity); answers 400 and returns false on error.
  bool parse_range(const http::request& req, std::int64_t& from, std::int64_t& to,
                   query::granularity* g, const http::responder& respond) {
    const auto f = base::query_param(req.query, "from");
    const auto t = base::query_param(req.query, "to");
    if (!f || !t) {
      respond(http::json_error(400, "bad_request", "from and to are required (RFC 3339 or Unix seconds)"));
      return false;
    }
    const auto fp = base::parse_time(*f);
    const auto tp = base::parse_time(*t);
    if (!fp) {
      respond(http::json_error(400, "bad_request", "from must be RFC 3339 (2026-11-29T05:00:00Z) or Unix seconds"));
      return false;
    }
    if (!tp) {
      respond(http::json_error(400, "bad_request", "to must be RFC 3339 (2026-11-29T05:00:00Z) or Unix seconds"));
      return false;
    }
    if (*fp >= *tp) {
      respond(http::json_error(400, "bad_request", "from must be before to"));
      return false;
    }
    from = *fp;
    to = *tp;
    if (g != nullptr) {
      *g = query::granularity::minute;
      if (auto gs = base::query_param(req.query, "granularity")) {
        auto parsed = query::parse_granularity(*gs);
        if (!parsed) {
          respond(http::json_error(400, "bad_request", "granularity must be minute, hour or day"));
          return false;
        }
        *g = *parsed;
      }
    }
    return true;
  }

  void aggregates(std::uint64_t id, const http::request& req, const http::responder& respond) {
    std::int64_t from = 0, to = 0;
    query::granularity g{};
    if (!parse_range(req, from, to, &g, respond)) return;
    const auto fmt_param = base::query_param(req.query, "format");
    if (fmt_param && *fmt_param != "json" && *fmt_param != "csv") {
      return respond(http::json_error(400, "bad_request", "format must be json or csv"));
    }
    const bool csv = (fmt_param && *fmt_param == "csv") ||
                     (!fmt_param && req.accept.find("text/csv") != std::string_view::npos);
    auto s = ctx_.query->ad_series(id, from, to, g);
    if (!s) {
      if (s.error() == query::query_errc::too_many_points) {
        return respond(http::json_error(400, "too_many_points",
                                        "the range holds more buckets than query.max_points; use a "
                                        "coarser granularity or a shorter range"));
      }
      return respond(http::json_error(500, "internal", s.error().message()));
    }
    const std::string key(query::to_string(g));
    if (csv) {
      http::response r;
      r.content_type = "text/csv; charset=utf-8";
      r.headers.emplace_back("Cache-Control", "no-store");
      r.body = key + ",clicks,state\n";
      for (const auto& p : s->points) {
        r.body += base::format_time(p.start_s) + "," + std::to_string(p.clicks) + "," +
                  std::string(query::to_string(p.state)) + "\n";
      }
      return respond(std::move(r));
    }
    std::string out = query::to_json(*s);
    http::response r;
    r.body = std::move(out);
    r.headers.emplace_back("Cache-Control", "no-store");
    respond(std::move(r));
  }

 public:
  // GET /api/v1/advertisers/{advertiserId}/ads/aggregates?from&to&limit&after
  void advertiser_route(const http::request& req, http::responder&& respond) {
    constexpr std::string_view prefix = "/api/v1/advertisers/";
    std::string_view rest = req.path.substr(prefix.size());
    const auto slash = rest.find('/');
    const std::string_view adv = rest.substr(0, slash);
    if (slash == std::string_view::npos || rest.substr(slash) != "/ads/aggregates" ||
        !ingest::valid_advertiser_id(adv)) {
      return respond(http::json_error(404, "not_found", "no such route"));
    }
    const caller who = authenticate(ctx_, req.authorization);
    if (who.kind == caller::none) return respond(unauthorized());
    if (who.kind == caller::advertiser && who.advertiser_id != adv) {
      return respond(http::json_error(404, "not_found", "no such advertiser"));
    }
    offload(respond, [this, adv, &req](const http::responder& r) { advertiser_totals(adv, req, r); });
  }

  void advertiser_totals(std::string_view adv, const http::request& req, const http::responder& respond) {
    std::int64_t from = 0, to = 0;
    if (!parse_range(req, from, to, nullptr, respond)) return;
    std::uint64_t limit = 100;
    if (auto l = base::query_param(req.query, "limit"); l && (!base::parse_u64(*l, limit) || limit == 0 || limit > 1000)) {
      return respond(http::json_error(400, "bad_request", "limit must be an integer from 1 to 1000"));
    }
    // after = "{clicks}_{adId}" of the last item of the previous page.
    std::optional<query::ranking_cursor> after;
    if (auto a = base::query_param(req.query, "after")) {
      const auto us = a->find('_');
      std::uint64_t c = 0, i = 0;
      if (us == std::string_view::npos || !base::parse_u64(a->substr(0, us), c) || !base::parse_u64(a->substr(us + 1), i)) {
        return respond(http::json_error(400, "bad_request", "after must be the cursor of a previous page"));
      }
      after = query::ranking_cursor{c, i};
    }
    auto page = ctx_.query->advertiser_ranking(adv, from, to, after, limit);
    if (!page) return respond(http::json_error(500, "internal", page.error().message()));
    json items = json::array();
    for (const auto& t : page->ads) items.push_back({{"adId", t.ad_id}, {"clicks", t.clicks}});
    const std::uint64_t total = page->total;
    std::optional<std::string> next;
    if (page->next) next = std::to_string(page->next->clicks) + "_" + std::to_string(page->next->ad_id);
    json body{{"advertiserId", adv},
              {"from", base::format_time(from)},
              {"to", base::format_time(to)},
              {"ads", items},
              {"total", total},
              {"finalThrough", [&] {
                 auto f = ctx_.query->final_through_s();
                 return f ? json(base::format_time(*f)) : json(nullptr);
               }()}};
    if (next) body["next"] = *next;
    respond(json_response(200, body));
  }

 private:
  const api_context& ctx_;
};

}  // namespace

caller authenticate(const api_context& ctx, std::string_view header) {
  constexpr std::string_view bearer = "Bearer ";
  if (header.substr(0, bearer.size()) != bearer) return {};
  const std::string_view token = header.substr(bearer.size());
  if (token.empty()) return {};
  if (equal_secret(token, ctx.admin_token)) return {caller::admin, {}};
  for (const auto& [adv, key] : ctx.advertiser_keys) {
    if (equal_secret(token, key)) return {caller::advertiser, adv};
  }
  return {};
}

void add_routes(http::router& routes, const api_context& ctx) {
  auto impl = std::make_shared<routes_impl>(ctx);
  // Route handlers take the responder by rvalue: the click route moves it
  // into its completion (no copy per click), the others just call it.
  using member = void (routes_impl::*)(const http::request&, http::responder&&);
  // Every route is counted by status class and timed (handler call to answer).
  auto bind = [impl](member m, const char* route, bool needs_ready = true) {
    auto& reg = base::metrics();
    auto stats = std::make_shared<route_stats>();
    for (int c = 0; c < 5; ++c) {
      stats->by_class[c] = &reg.add_counter("adclick_http_requests_total", "HTTP requests by route and status class",
                                            fmt::format("route=\"{}\",code=\"{}xx\"", route, c + 1));
    }
    stats->latency = &reg.add_histogram("adclick_http_request_seconds",
                                        "From the request's dispatch to its answer, by route",
                                        fmt::format("route=\"{}\"", route));
    return [impl, m, stats, needs_ready](const http::request& r, http::responder d) {
      const auto t0 = std::chrono::steady_clock::now();
      http::responder timed = [stats, t0, d = std::move(d)](http::response resp) {
        stats->latency->observe_ns(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()));
        const int c = std::clamp(resp.status / 100, 1, 5) - 1;
        stats->by_class[c]->add();
        d(std::move(resp));
      };
      if (!needs_ready || impl->ready(timed)) ((*impl).*m)(r, std::move(timed));
    };
  };
  routes.add("GET", "/click", bind(&routes_impl::click, "click"));
  routes.add("GET", "/metrics", bind(&routes_impl::metrics, "metrics", false));
  routes.add("GET", "/api/v1/hot-ads", bind(&routes_impl::hot_ads, "hot_ads"));
  routes.add("GET", "/api/v1/ads", bind(&routes_impl::list_ads, "ads"));
  routes.add("GET", "/api/v1/me", bind(&routes_impl::me, "me"));
  routes.add("GET", "/api/v1/status", bind(&routes_impl::status, "status"));
  auto dashboard = bind(&routes_impl::dashboard, "dashboard", false);
  routes.add("GET", "/", dashboard);
  routes.add("GET", "/dashboard", dashboard);
  routes.add_prefix("GET", "/dashboard/", dashboard);
  auto recon_list = bind(&routes_impl::reconciliations, "reconciliations");
  routes.add("GET", "/api/v1/reconciliations", recon_list);
  routes.add("POST", "/api/v1/reconciliations", recon_list);
  routes.add_prefix("GET", "/api/v1/reconciliations/", bind(&routes_impl::reconciliation, "reconciliation"));
  auto ad_route = bind(&routes_impl::ad_route, "ad");
  routes.add_prefix("GET", "/api/v1/advertisers/", bind(&routes_impl::advertiser_route, "advertiser"));
  for (const char* m : {"GET", "PUT", "DELETE", "POST"}) routes.add_prefix(m, "/api/v1/ads/", ad_route);
}

}  // namespace adclick::api
