#include "config/endpoint.h"

#include <arpa/inet.h>

#include <array>

namespace adclick::config {
namespace {

bool is_ipv4_literal(const std::string& host) {
  // inet_pton(AF_INET) takes exactly four dotted decimal octets: no octal,
  // hex or shortened forms, unlike inet_aton. It reads a C string: a NUL
  // inside the host would end it early.
  if (host.find('\0') != std::string::npos) return false;
  std::array<unsigned char, 4> out{};
  return inet_pton(AF_INET, host.c_str(), out.data()) == 1;
}

bool is_ipv6_literal(const std::string& host) {
  if (host.find('\0') != std::string::npos) return false;
  std::array<unsigned char, 16> out{};
  return inet_pton(AF_INET6, host.c_str(), out.data()) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<endpoint> parse_endpoint(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    if (!is_ipv6_literal(host)) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    // An unbracketed IPv6 literal contains ':' and so fails here too.
    if (host != "localhost" && !is_ipv4_literal(host)) return std::nullopt;
  }
  const auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  return endpoint{std::move(host), *port};
}

std::string to_string(const endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

}  // namespace adclick::config
