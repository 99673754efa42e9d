#pragma once
// One HTTP request as a handler sees it: views into the bytes that the
// connection received. No Beast or Asio types cross this header.

#include <array>
#include <cstdint>
#include <string_view>

namespace adclick::http {

// Lifetime: the request object and every view in it stay valid until the
// handler calls its responder (or drops every copy of it), on whichever
// thread the handler then runs; the connection does not read the next
// request before that. Copy what you need to keep longer.
struct request {
  std::string_view method;  // "GET", exactly as sent (methods are case-sensitive)
  std::string_view target;  // "/click?adId=1&...", as sent, not percent-decoded
  // The target up to the first '?'. For an absolute-form target
  // ("http://host/p?q") the scheme and authority are stripped first.
  std::string_view path;
  std::string_view query;  // after the first '?', without it; empty if none
  std::string_view body;
  // Header values, or empty when the header is absent.
  std::string_view authorization, accept, user_agent, content_type, host;
  // The peer's address in network byte order: the first 4 bytes for IPv4,
  // all 16 for IPv6. An IPv4-mapped IPv6 peer (dual-stack listener) is
  // reported as IPv4.
  std::array<std::uint8_t, 16> client_addr{};
  std::uint8_t client_family = 0;  // 4 or 6; 0 if the peer was already gone at accept
};

}  // namespace adclick::http
