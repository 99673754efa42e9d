#pragma once
// What a handler answers, and the callback it answers through. No Beast or
// Asio types cross this header.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace adclick::http {

struct response {
  int status = 200;  // 200..599; anything else is answered as a 500 and logged
  std::string content_type = "application/json";  // omitted when empty
  // Extra headers (Location, Cache-Control, ...). The server frames the
  // message itself: Content-Length, Transfer-Encoding and Connection are
  // refused here (the response becomes a 500 and is logged), as is a name
  // that is not an RFC 7230 token or a value holding CR, LF or NUL.
  // Server is always "adclick"; Date is added unless given here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // must be empty for 204 and 304 (it is dropped)
};

// Sends the response for one request. Call it exactly once, from any
// thread; it never blocks: it posts the write onto the connection's I/O
// thread. A second call is ignored and logged. If every copy is destroyed
// without a call, the client gets a 500 (and it is logged). After
// server::stop() has given up on the connection, a call does nothing.
using responder = std::function<void(response)>;

// {"error":{"code":"<code>","message":"<message>"}} with `status`; both
// strings are JSON-escaped. The error body every adclick endpoint uses.
[[nodiscard]] response json_error(int status, std::string_view code, std::string_view message);

// `text` as the contents of a JSON string (quotes, backslashes and control
// characters escaped; other bytes, UTF-8 included, copied as they are).
[[nodiscard]] std::string json_escape(std::string_view text);

}  // namespace adclick::http
