// The dashboard: static files built into the binary, with headers that keep
// it from being framed, sniffed or fed inline script.

#include "api/handlers.h"
#include "api/web_assets.h"

namespace adclick::api::handlers {
namespace {

void dashboard_headers(http::response& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-cache");
}

http::response redirect(std::string location) {
  http::response r;
  r.status = 302;
  r.content_type.clear();
  r.headers.emplace_back("Location", std::move(location));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

// GET / and /dashboard: to /dashboard/; GET /dashboard/{file}
void dashboard(const api_context&, const http::request& req, http::responder&& respond) {
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

}  // namespace adclick::api::handlers
