#pragma once
// A minimal blocking HTTP/1.1 client over a real socket to 127.0.0.1, for
// integration tests (one request per connection unless reused).

#include <cstdint>
#include <map>
#include <string>

namespace adclick::testutil {

struct http_response {
  int status = 0;  // 0: no response (connection failed or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Sends `method path` with the given extra header lines ("Name: value\r\n"...)
// and body, reads one response (Content-Length framed) and closes.
http_response http_request(std::uint16_t port, const std::string& method, const std::string& path,
                           const std::string& extra_headers = "", const std::string& body = "");

inline http_response http_get(std::uint16_t port, const std::string& path,
                              const std::string& extra_headers = "") {
  return http_request(port, "GET", path, extra_headers);
}

}  // namespace adclick::testutil
