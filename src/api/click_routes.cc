// GET /click: the click path's only route. Every outcome but a malformed
// request or an unknown ad redirects to the ad's URL.

#include <algorithm>

#include "api/handlers.h"
#include "base/event_clock.h"
#include "ingest/click_processor.h"

namespace adclick::api::handlers {
namespace {

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

http::response click_response(const ingest::click_result& r) {
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
      resp.body = "<!doctype html><title>Redirecting</title><a href=\"" + esc + "\">" + esc + "</a>\n";
      break;
    }
  }
  return resp;
}

}  // namespace

void click(const api_context& ctx, const http::request& req, http::responder&& respond) {
  ingest::click_context c;
  c.now_ms = base::event_now_ms();  // the click's event time: step-safe
  c.user_agent = req.user_agent;
  c.client.family = req.client_family;
  std::copy(req.client_addr.begin(), req.client_addr.end(), c.client.bytes.begin());
  ctx.clicks->process(req.query, c, [respond = std::move(respond)](const ingest::click_result& r) {
    respond(click_response(r));
  });
}

}  // namespace adclick::api::handlers
