#pragma once
// What a handler answers, and the callback it answers through. No Beast or
// Asio types cross this header.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace adclick::http {

// The writing end of a streamed response (Server-Sent Events). Any thread;
// never blocks (bytes are queued and written on the connection's thread).
class event_stream {
 public:
  virtual ~event_stream() = default;
  // Queues bytes for the client. False once the stream is closed: the client
  // went away, the server is stopping, close() was called, or the client
  // reads so slowly that more than kMaxUnsentStreamBytes wait unsent.
  virtual bool write(std::string bytes) = 0;
  // Ends the response: what is queued is written, then the connection closes.
  virtual void close() = 0;
  virtual bool closed() const = 0;
};
inline constexpr std::size_t kMaxUnsentStreamBytes = 1 << 20;

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
  // A streamed response: when set, the head goes out without Content-Length
  // (with `Connection: close`: the body ends when the connection does),
  // then `body` if any, then this is called once, on the connection's
  // thread, with the stream to write the rest through. The connection then
  // stays open until either side closes it (no idle or write timeout; the
  // unsent-bytes cap stands in for the latter).
  std::function<void(std::shared_ptr<event_stream>)> on_stream_open;
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
