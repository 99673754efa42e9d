#include "http/builtin_routes.h"

#include <string>

#include "http/server_state.h"

namespace adclick::http::detail {
namespace {

// The Location of a redirect to HTTPS: the request's Host without its port,
// the HTTPS port unless it is 443, then the path and query as sent. Empty
// when the Host is missing or not a plain host name or address literal.
std::string https_location(const request& r, std::uint16_t port) {
  std::string_view host = r.host;
  if (host.starts_with('[')) {  // [v6]:port
    const auto close = host.find(']');
    if (close == std::string_view::npos) return {};
    host = host.substr(0, close + 1);
  } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty() || host.size() > 255) return {};
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
    if (!ok) return {};
  }
  std::string loc = "https://";
  loc.append(host);
  if (port != 443) loc.append(":").append(std::to_string(port));
  loc.append(r.path);
  if (!r.query.empty()) loc.append("?").append(r.query);
  return loc;
}

// GET /healthz, GET /readyz (405 for any other method).
void answer_health(const server_core& core, const request& req, const responder& respond) {
  if (req.method != "GET") {
    response r = json_error(405, "method_not_allowed",
                            std::string(req.method) + " is not allowed on " + std::string(req.path));
    r.headers.emplace_back("Allow", "GET");
    return respond(std::move(r));
  }
  response r;
  if (req.path == "/healthz") {
    r.body = R"({"status":"ok"})";
  } else if (core.ready.load(std::memory_order_acquire)) {
    r.body = R"({"ready":true})";
  } else {
    r.status = 503;
    r.body = R"({"ready":false})";
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  respond(std::move(r));
}

}  // namespace

bool answer_builtin(const server_core& core, const request& req, const responder& respond) {
  if (const auto port = core.options.redirect_https_port) {
    std::string location = https_location(req, *port);
    if (location.empty()) {
      respond(json_error(400, "bad_request", "a Host header naming this server is required"));
      return true;
    }
    response r;
    r.status = 308;  // keeps the method, unlike 301
    r.headers.emplace_back("Location", std::move(location));
    r.headers.emplace_back("Cache-Control", "no-store");
    respond(std::move(r));
    return true;
  }
  if (req.path != "/healthz" && req.path != "/readyz") return false;
  answer_health(core, req, respond);
  return true;
}

}  // namespace adclick::http::detail
