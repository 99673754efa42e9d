#pragma once
// What every route family shares: JSON answers, the common errors, and the
// parameters several routes take (ids, limits, time ranges, strict JSON
// bodies). A parse_* function returns the message of the 400 to answer, or
// nothing when the value was accepted (an absent optional parameter leaves
// the default in place).

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <nlohmann/json.hpp>

#include "http/response.h"

namespace adclick::api {

using json = nlohmann::ordered_json;  // keys in the order written

// A problem with a request's parameters: the message of its 400.
using problem = std::optional<std::string>;

// `body` as JSON, with Cache-Control: no-store.
http::response json_response(int status, const json& body);
http::response bad_request(std::string_view message);
http::response not_found(std::string_view message);
// 404 not_served: this node's roles (node.roles) do not include `role`.
http::response not_served(std::string_view role);
http::response unauthorized();  // 401 with WWW-Authenticate: Bearer
// 405; `allow` is the Allow header ("GET", "DELETE, GET, PUT").
http::response method_not_allowed(std::string_view allow, std::string_view message);
http::response internal_error(const std::error_code& ec);  // 500, the code's message
// 503 with Retry-After.
http::response unavailable(std::string_view code, std::string_view message, int retry_after_s);

// ?limit=: an integer from 1 to 1000.
problem parse_limit(std::string_view query, std::uint64_t& limit);
// ?from=&to= (both required): RFC 3339 UTC or Unix seconds, from < to.
problem parse_range(std::string_view query, std::int64_t& from_s, std::int64_t& to_s);
// A body that must be a JSON object whose keys are all in `allowed`.
problem parse_object(std::string_view body, std::initializer_list<std::string_view> allowed, json& out);
// "{prefix}{id}[/rest]" with an ad id (base::parse_ad_id's rule) -> id and
// rest ("" or "/..."); false when the path does not have that shape.
bool split_ad_path(std::string_view path, std::string_view prefix, std::uint64_t& id, std::string_view& rest);

}  // namespace adclick::api
