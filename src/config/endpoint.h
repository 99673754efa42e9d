#pragma once
// A listen address as written in the config: "host:port".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::config {

struct endpoint {
  // An IPv4 literal ("0.0.0.0"), an IPv6 literal WITHOUT brackets ("::1"),
  // or "localhost"; ready for asio::ip::make_address (except "localhost",
  // which the caller resolves or maps to the loopback address).
  std::string host;
  // 0 asks the OS for a free port (tests use it).
  std::uint16_t port = 0;

  friend bool operator==(const endpoint&, const endpoint&) = default;
};

// Parses "a.b.c.d:port", "[v6]:port" or "localhost:port"; port 0..65535 in
// decimal. Host names other than "localhost" are refused: a listen address
// must not depend on DNS. Returns nullopt on anything else.
std::optional<endpoint> parse_endpoint(std::string_view text);

// "host:port", with brackets around an IPv6 host; parse_endpoint's inverse.
std::string to_string(const endpoint& e);

}  // namespace adclick::config
