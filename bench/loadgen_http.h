#pragma once
// loadgen's HTTP/1.1 response parser: incremental, allocation-free on the
// fast path, and only as complete as a load generator needs. It reads the
// status line and the headers it acts on (Content-Length, Transfer-Encoding,
// Connection, Location), skips the body (Content-Length, chunked, or up to
// the end of the connection), and keeps at most kMaxKeptBody bytes of it so
// that a failed registration can show the server's message.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace adclick::bench {

class response_parser {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
  static constexpr std::size_t kMaxKeptBody = 512;

  enum class state { need_more, done, error };

  // Feeds bytes that follow the ones already consumed. Sets `consumed` to how
  // many of `data` belong to this response (the rest, if any, is the start of
  // the next one). While the header block is incomplete nothing is consumed:
  // the caller keeps the bytes and feeds them again with more appended.
  state feed(std::string_view data, std::size_t& consumed);

  // The peer closed the connection. A response whose body runs to the end of
  // the connection is then complete; anything else unfinished is an error.
  state finish_at_eof();

  // Ready for the next response on the same connection.
  void reset();

  // Valid once the header block is parsed.
  int status() const { return status_; }
  bool has_location() const { return has_location_; }
  // False if the server will close the connection after this response
  // (`Connection: close`, HTTP/1.0 without keep-alive, or a body to EOF).
  bool keep_alive() const { return keep_alive_; }
  bool headers_done() const { return phase_ != phase::headers; }
  // The first kMaxKeptBody bytes of the body.
  const std::string& body_start() const { return body_start_; }
  // Why the response was rejected (after state::error).
  std::string_view error() const { return error_; }

 private:
  enum class phase {
    headers,
    fixed_body,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailers,
    body_to_eof,
    done
  };

  state parse_headers(std::string_view block);
  state fail(std::string_view why) {
    error_ = why;
    return state::error;
  }
  void keep(std::string_view bytes);

  phase phase_ = phase::headers;
  int status_ = 0;
  bool has_location_ = false;
  bool keep_alive_ = true;
  std::uint64_t remaining_ = 0;  // body bytes left (fixed_body, chunk_data)
  std::string line_;             // partial chunk-size or trailer line
  std::string body_start_;
  std::string_view error_;
};

}  // namespace adclick::bench
