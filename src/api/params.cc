#include "api/params.h"

#include <fmt/format.h>

#include "base/ad_id.h"
#include "base/decimal.h"
#include "base/query_string.h"
#include "base/rfc3339.h"

namespace adclick::api {

http::response json_response(int status, const json& body) {
  http::response r;
  r.status = status;
  r.body = body.dump();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

http::response bad_request(std::string_view message) { return http::json_error(400, "bad_request", message); }

http::response not_found(std::string_view message) { return http::json_error(404, "not_found", message); }

http::response not_served(std::string_view role) {
  return http::json_error(404, "not_served",
                          fmt::format("this node does not serve this route: its node.roles leave out \"{}\"", role));
}

http::response unauthorized() {
  auto r = http::json_error(401, "unauthorized", "a valid bearer token is required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

http::response method_not_allowed(std::string_view allow, std::string_view message) {
  auto r = http::json_error(405, "method_not_allowed", message);
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

http::response internal_error(const std::error_code& ec) { return http::json_error(500, "internal", ec.message()); }

http::response unavailable(std::string_view code, std::string_view message, int retry_after_s) {
  auto r = http::json_error(503, code, message);
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

problem parse_limit(std::string_view query, std::uint64_t& limit) {
  auto l = base::query_param(query, "limit");
  if (l && (!base::parse_u64(*l, limit) || limit == 0 || limit > 1000)) {
    return "limit must be an integer from 1 to 1000";
  }
  return {};
}

problem parse_range(std::string_view query, std::int64_t& from_s, std::int64_t& to_s) {
  const auto f = base::query_param(query, "from");
  const auto t = base::query_param(query, "to");
  if (!f || !t) return "from and to are required (RFC 3339 or Unix seconds)";
  const auto fp = base::parse_time(*f);
  if (!fp) return "from must be RFC 3339 (2026-11-29T05:00:00Z) or Unix seconds";
  const auto tp = base::parse_time(*t);
  if (!tp) return "to must be RFC 3339 (2026-11-29T05:00:00Z) or Unix seconds";
  if (*fp >= *tp) return "from must be before to";
  from_s = *fp;
  to_s = *tp;
  return {};
}

problem parse_object(std::string_view body, std::initializer_list<std::string_view> allowed, json& out) {
  out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded() || !out.is_object()) return "the body must be a JSON object";
  for (const auto& [key, value] : out.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) return "unknown field '" + key + "'";
  }
  return {};
}

bool split_ad_path(std::string_view path, std::string_view prefix, std::uint64_t& id, std::string_view& rest) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  path.remove_prefix(prefix.size());
  const auto slash = path.find('/');
  rest = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  const auto parsed = base::parse_ad_id(path.substr(0, slash));
  if (parsed) id = *parsed;
  return parsed.has_value();
}

}  // namespace adclick::api
