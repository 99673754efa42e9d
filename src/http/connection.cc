// The connection's state machine (see connection.h): read, dispatch, write,
// linger, stream.

#include "http/connection.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <deque>
#include <ctime>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/mutex.h"
#include "http/builtin_routes.h"
#include "http/http_date.h"
#include "http/message.h"
#include "http/response_slot.h"
#include "http/stream_handle.h"

namespace adclick::http::detail {
namespace {

// After a response that ends the connection, the server shuts down its
// sending side and reads (and discards) what the client still sends for up
// to this long / this many bytes before closing. Closing with unread bytes
// in the receive buffer makes the kernel send a RST, which can destroy the
// response (a 413 or 431) before the client has read it.
constexpr std::chrono::milliseconds kLingerTimeout{2000};
constexpr std::size_t kLingerMaxBytes = 1 << 20;
constexpr std::size_t kReadChunk = 4096;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// TLS: bodies up to this size are copied behind the head (one record).
constexpr std::size_t kTlsCoalesce = 16 * 1024;

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

}  // namespace

template <class Stream>
connection<Stream>::connection(std::shared_ptr<io_worker> worker, tcp::socket socket,
                               std::shared_ptr<asio::ssl::context> tls)
    : worker_(std::move(worker)),
      core_(*worker_->core),
      tls_(std::move(tls)),
      stream_(make_stream(std::move(socket))),
      executor_(stream_.get_executor()) {
  beast::error_code ec;
  const tcp::endpoint peer = lowest().socket().remote_endpoint(ec);
  if (!ec) {
    asio::ip::address a = peer.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
      a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    }
    if (a.is_v4()) {
      const auto bytes = a.to_v4().to_bytes();
      std::copy(bytes.begin(), bytes.end(), client_addr_.begin());
      client_family_ = 4;
    } else {
      const auto bytes = a.to_v6().to_bytes();
      std::copy(bytes.begin(), bytes.end(), client_addr_.begin());
      client_family_ = 6;
    }
  }
  // Responses are written in one go; do not let Nagle hold back their tail.
  lowest().socket().set_option(tcp::no_delay(true), ec);
}

template <class Stream>
connection<Stream>::~connection() {
  // Normally finish() has run. If not (an exception unwound the chain of
  // handlers), settle the counts; the registry entry is left expired for
  // close_connections() to drop, since this may run on a foreign thread.
  if (!finished_) {
    core_.counters.connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (in_flight_) core_.end_exchange();
  }
}

template <class Stream>
void connection<Stream>::start() {
  {
    base::mutex_lock lock(worker_->connections_mu);
    registry_pos_ = worker_->connections.insert(worker_->connections.end(),
                                                std::weak_ptr<connection_base>(self()));
  }
  // Registered after stop() took its list of connections to close (it sets
  // `stopping` before it takes the lock): nobody else will close this one.
  if (core_.stopping.load(std::memory_order_acquire)) return finish();
  if constexpr (kTls) {
    // The handshake is on the header clock: a client that stalls in it is
    // cut off like one that stalls in its request head.
    phase_ = phase::header;
    lowest().expires_after(core_.options.header_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            beast::bind_front_handler(&connection<Stream>::on_handshake, self()));
  } else {
    read_request();
  }
}

template <class Stream>
void connection<Stream>::on_handshake(beast::error_code ec) {
  if (finished_) return;
  if (ec) {
    core_.counters.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    return fail(ec, "TLS handshake");
  }
  read_request();
}

template <class Stream>
bool connection<Stream>::post_response(response r) {
  // If the gate is closed the server has finished stopping and closed this
  // connection: the answer has nowhere to go.
  return worker_->post(executor_, [self = self(), r = std::move(r)]() mutable {
    self->send(std::move(r));
  });
}

template <class Stream>
void connection<Stream>::begin_exchange() {
  if (in_flight_) return;
  in_flight_ = true;
  core_.begin_exchange();
}

template <class Stream>
void connection<Stream>::end_exchange() {
  if (!in_flight_) return;
  in_flight_ = false;
  core_.end_exchange();
}

template <class Stream>
void connection<Stream>::read_request() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(std::min<std::uint64_t>(
      core_.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(core_.options.max_body_bytes);
  version_ = 11;
  keep_alive_ = false;
  close_after_write_ = false;
  // A new connection's first request, and a request already (partly) in the
  // buffer, are on the header clock at once; otherwise the connection idles.
  if (first_request_ || buffer_.size() > 0) {
    first_request_ = false;
    read_header();
  } else {
    wait_idle();
  }
}

template <class Stream>
void connection<Stream>::wait_idle() {
  phase_ = phase::idle;
  lowest().expires_after(core_.options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&connection<Stream>::on_idle_read, self()));
}

template <class Stream>
void connection<Stream>::on_idle_read(beast::error_code ec, std::size_t n) {
  if (finished_) return;
  // The client closed its keep-alive connection between requests: normal.
  if (ec == asio::error::eof) return finish();
  if (ec == beast::error::timeout) {
    core_.counters.idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    return finish();
  }
  if (ec) return fail(ec, "read");
  buffer_.commit(n);
  read_header();
}

template <class Stream>
void connection<Stream>::read_header() {
  phase_ = phase::header;
  lowest().expires_after(core_.options.header_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&connection<Stream>::on_header, self()));
}

template <class Stream>
void connection<Stream>::on_header(beast::error_code ec, std::size_t) {
  if (finished_) return;
  // No byte of a request arrived before the client closed: normal.
  if (ec == bhttp::error::end_of_stream) return finish();
  if (ec) return read_failed(ec, "read header");
  begin_exchange();
  const auto& msg = parser_->get();
  version_ = msg.version();
  keep_alive_ = msg.keep_alive();
  if (parser_->is_done()) return dispatch();
  if (version_ == 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
    // The client waits for this before it sends the body (curl does for
    // bodies over 1 KiB); limits were already checked against the header.
    phase_ = phase::body;
    lowest().expires_after(core_.options.body_timeout);
    asio::async_write(
        stream_, asio::buffer(kContinue.data(), kContinue.size()),
        beast::bind_front_handler(&connection<Stream>::on_continue_written, self()));
    return;
  }
  read_body();
}

template <class Stream>
void connection<Stream>::on_continue_written(beast::error_code ec, std::size_t) {
  if (finished_) return;
  if (ec == beast::error::timeout) {
    core_.counters.write_timeouts.fetch_add(1, std::memory_order_relaxed);
    return finish();
  }
  if (ec) return fail(ec, "write 100-continue");
  read_body();
}

template <class Stream>
void connection<Stream>::read_body() {
  phase_ = phase::body;
  lowest().expires_after(core_.options.body_timeout);
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&connection<Stream>::on_body, self()));
}

template <class Stream>
void connection<Stream>::on_body(beast::error_code ec, std::size_t) {
  if (finished_) return;
  if (ec) return read_failed(ec, "read body");
  dispatch();
}

template <class Stream>
void connection<Stream>::read_failed(beast::error_code ec, const char* what) {
  if (ec == beast::error::timeout) {
    core_.counters.request_timeouts.fetch_add(1, std::memory_order_relaxed);
    return finish();
  }
  if (ec == bhttp::error::header_limit) {
    return send_error(431, "header_too_large",
                      "the request header exceeds " +
                          std::to_string(core_.options.max_header_bytes) + " bytes");
  }
  if (ec == bhttp::error::body_limit) {
    return send_error(413, "body_too_large",
                      "the request body exceeds " + std::to_string(core_.options.max_body_bytes) +
                          " bytes");
  }
  // The client closed in the middle of a request: nobody to answer.
  if (ec == bhttp::error::partial_message) return finish();
  if (is_parse_error(ec)) {
    return send_error(400, "bad_request", std::string("malformed HTTP request: ") + ec.message());
  }
  fail(ec, what);
}

template <class Stream>
void connection<Stream>::dispatch() {
  phase_ = phase::handling;
  lowest().expires_never();
  core_.counters.requests.fetch_add(1, std::memory_order_relaxed);

  const auto& msg = parser_->get();
  request_ = request{};
  request_.method = msg.method_string();
  request_.target = msg.target();
  split_target(request_);
  request_.body = msg.body();
  request_.authorization = msg[bhttp::field::authorization];
  request_.accept = msg[bhttp::field::accept];
  request_.user_agent = msg[bhttp::field::user_agent];
  request_.content_type = msg[bhttp::field::content_type];
  request_.host = msg[bhttp::field::host];
  request_.client_addr = client_addr_;
  request_.client_family = client_family_;

  auto slot = std::make_shared<response_slot>(self());
  const responder respond = [slot](response r) { slot->respond(std::move(r)); };
  try {
    route(respond);
  } catch (const std::exception& e) {
    count_handler_error();
    spdlog::error("http: handler for {} {} threw: {}", request_.method, request_.path, e.what());
    if (!slot->used()) respond(json_error(500, "internal", "internal error"));
  } catch (...) {
    count_handler_error();
    spdlog::error("http: handler for {} {} threw a non-standard exception", request_.method,
                  request_.path);
    if (!slot->used()) respond(json_error(500, "internal", "internal error"));
  }
}

// Built-ins first, then the router. Every branch answers through `respond`,
// so that all responses take the same (posted) path to send().
template <class Stream>
void connection<Stream>::route(const responder& respond) {
  if (answer_builtin(core_, request_, respond)) return;
  const std::string_view path = request_.path;
  const route_match m = core_.current_routes().match(request_.method, path);
  if (m.target != nullptr) return (*m.target)(request_, respond);
  if (m.allow.empty()) {
    return respond(json_error(404, "not_found", "no route for " + std::string(path)));
  }
  response r = json_error(405, "method_not_allowed",
                          std::string(request_.method) + " is not allowed on " + std::string(path));
  r.headers.emplace_back("Allow", m.allow);
  respond(std::move(r));
}

template <class Stream>
void connection<Stream>::send_error(int status, std::string_view code, std::string_view message) {
  // Whatever follows in the stream cannot be trusted to start a request.
  close_after_write_ = true;
  begin_exchange();
  phase_ = phase::handling;
  send(json_error(status, code, message));
}

template <class Stream>
void connection<Stream>::send(response r) {
  if (finished_) return;  // closed by stop() while the handler ran
  assert(phase_ == phase::handling && "one response per request");
  if (phase_ != phase::handling) return;

  const char* problem = nullptr;
  if (r.status < 200 || r.status > 599) problem = "status out of range 200..599";
  for (const auto& [name, value] : r.headers) {
    if (problem != nullptr) break;
    problem = header_problem(name, value);
  }
  if (problem != nullptr) {
    count_handler_error();
    spdlog::error("http: handler for {} {} produced a bad response ({}); sending 500",
                  request_.method, request_.path, problem);
    r = json_error(500, "internal", "internal error");
  }

  // The head is written by hand: it is the same few headers every time, and
  // Beast's general serializer cost more than the rest of a click's answer.
  if (r.status == 204 || r.status == 304) r.body.clear();
  write_keep_alive_ =
      keep_alive_ && !close_after_write_ && !core_.stopping.load(std::memory_order_acquire);
  const std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  head_.clear();
  head_.append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  fmt::format_to(std::back_inserter(head_), "{} {}\r\n", r.status, reason);
  bool has_date = false;
  for (const auto& [name, value] : r.headers) {
    head_.append(name).append(": ").append(value).append("\r\n");
    has_date = has_date || beast::iequals(name, "date");
  }
  head_.append("Server: adclick\r\n");
  if (!core_.options.strict_transport_security.empty()) {
    head_.append("Strict-Transport-Security: ").append(core_.options.strict_transport_security).append("\r\n");
  }
  if (!has_date) head_.append("Date: ").append(http_date()).append("\r\n");
  if (!r.content_type.empty()) {
    head_.append("Content-Type: ").append(r.content_type).append("\r\n");
  }
  stream_opener_ = std::move(r.on_stream_open);
  if (stream_opener_) write_keep_alive_ = false;  // the body ends with the connection
  // RFC 7230 3.3.2: no Content-Length on a 204.
  if (r.status != 204 && !stream_opener_) {
    fmt::format_to(std::back_inserter(head_), "Content-Length: {}\r\n", r.body.size());
  }
  if (version_ == 10) {
    if (write_keep_alive_) head_.append("Connection: keep-alive\r\n");
  } else if (!write_keep_alive_) {
    head_.append("Connection: close\r\n");
  }
  head_.append("\r\n");
  body_ = std::move(r.body);

  auto& c = core_.counters;
  switch (r.status / 100) {
    case 2: c.responses_2xx.fetch_add(1, std::memory_order_relaxed); break;
    case 3: c.responses_3xx.fetch_add(1, std::memory_order_relaxed); break;
    case 4: c.responses_4xx.fetch_add(1, std::memory_order_relaxed); break;
    default: c.responses_5xx.fetch_add(1, std::memory_order_relaxed); break;
  }

  phase_ = phase::writing;
  lowest().expires_after(core_.options.write_timeout);
  if constexpr (kTls) {
    // SSL_write takes one buffer at a time: a small body goes in the head's
    // buffer, so that head and body leave in one TLS record.
    if (body_.size() <= kTlsCoalesce) {
      head_.append(body_);
      body_.clear();
    }
  }
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
  asio::async_write(stream_, buffers,
                    beast::bind_front_handler(&connection<Stream>::on_write, self()));
}

template <class Stream>
void connection<Stream>::on_write(beast::error_code ec, std::size_t) {
  if (finished_) return;
  end_exchange();
  if (ec == beast::error::timeout) {
    core_.counters.write_timeouts.fetch_add(1, std::memory_order_relaxed);
    return finish();
  }
  if (ec) return fail(ec, "write");
  body_ = std::string();  // free the body now rather than at the next response
  if (stream_opener_) return start_streaming();
  // stop() may have run while this write was in flight: it skipped this
  // connection as busy then, and will not come back for it.
  if (!write_keep_alive_ || core_.stopping.load(std::memory_order_acquire)) return linger_close();
  read_request();
}

template <class Stream>
void connection<Stream>::start_streaming() {
  phase_ = phase::streaming;
  lowest().expires_never();
  stream_handle_ = std::make_shared<stream_handle>(std::weak_ptr<connection_base>(self()), worker_);
  auto opener = std::move(stream_opener_);
  stream_opener_ = nullptr;
  try {
    opener(stream_handle_);
  } catch (const std::exception& e) {
    count_handler_error();
    spdlog::error("http: a stream's opener threw: {}", e.what());
    return finish();
  }
  // Whatever the client sends now is ignored; its end (or an error) closes
  // the stream.
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&connection<Stream>::on_stream_read, self()));
}

template <class Stream>
void connection<Stream>::on_stream_read(beast::error_code ec, std::size_t) {
  if (finished_) return;
  if (ec) return finish();
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&connection<Stream>::on_stream_read, self()));
}

template <class Stream>
void connection<Stream>::stream_enqueue(std::string bytes) {
  if (finished_ || stream_closing_ || phase_ != phase::streaming) return;
  stream_queued_bytes_ += bytes.size();
  if (stream_queued_bytes_ > kMaxUnsentStreamBytes) {
    spdlog::debug("http: a stream's client reads too slowly; closing it");
    return finish();
  }
  stream_queue_.push_back(std::move(bytes));
  if (!stream_writing_) write_stream_front();
}

template <class Stream>
void connection<Stream>::stream_close() {
  if (finished_) return;
  stream_closing_ = true;
  if (!stream_writing_) finish();
}

template <class Stream>
void connection<Stream>::write_stream_front() {
  stream_writing_ = true;
  asio::async_write(stream_, asio::buffer(stream_queue_.front()),
                    beast::bind_front_handler(&connection<Stream>::on_stream_write, self()));
}

template <class Stream>
void connection<Stream>::on_stream_write(beast::error_code ec, std::size_t) {
  stream_writing_ = false;
  if (finished_) return;
  if (ec) return fail(ec, "stream write");
  stream_queued_bytes_ -= stream_queue_.front().size();
  stream_queue_.pop_front();
  if (!stream_queue_.empty()) return write_stream_front();
  if (stream_closing_) finish();
}

template <class Stream>
void connection<Stream>::linger_close() {
  phase_ = phase::closing;
  if constexpr (kTls) {
    // close_notify, then wait for the client's (reading, and so draining,
    // what it still sends) for the linger time at most.
    lowest().expires_after(kLingerTimeout);
    stream_.async_shutdown([c = self()](beast::error_code) { c->finish(); });
    return;
  }
  beast::error_code ec;
  lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return finish();
  lingered_ = 0;
  buffer_.clear();
  lowest().expires_after(kLingerTimeout);
  drain();
}

template <class Stream>
void connection<Stream>::drain() {
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&connection<Stream>::on_drain, self()));
}

template <class Stream>
void connection<Stream>::on_drain(beast::error_code ec, std::size_t n) {
  if (finished_) return;
  // eof (the client closed too) is the expected end; a timeout or an error
  // ends the linger just as well.
  if (ec) return finish();
  lingered_ += n;  // never committed: the bytes are discarded
  if (lingered_ >= kLingerMaxBytes) return finish();
  drain();
}

template <class Stream>
void connection<Stream>::fail(beast::error_code ec, const char* what) {
  // operation_aborted: we closed the socket ourselves. Resets and the like
  // are the client's business; debug level keeps a flaky client from
  // flooding the log.
  if (ec != asio::error::operation_aborted) {
    spdlog::debug("http: {}: {}", what, ec.message());
  }
  finish();
}

template <class Stream>
void connection<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  if (stream_handle_) stream_handle_->mark_closed();
  lowest().close();  // cancels the pending operation and the timer
  {
    base::mutex_lock lock(worker_->connections_mu);
    worker_->connections.erase(registry_pos_);
  }
  core_.counters.connections_open.fetch_sub(1, std::memory_order_relaxed);
  end_exchange();
}

void start_connection(const std::shared_ptr<io_worker>& worker, tcp::socket socket) {
  // start() runs on the connection's own executor (its strand in the shared
  // model), like everything else it does, so that a close_now() posted by
  // stop() can never run beside it.
  if (auto tls = worker->core->tls_context()) {
    auto c = std::make_shared<connection<tls_stream>>(worker, std::move(socket), std::move(tls));
    const asio::any_io_executor ex = c->executor();
    asio::dispatch(ex, [c = std::move(c)] { c->start(); });
  } else {
    auto c = std::make_shared<connection<beast::tcp_stream>>(worker, std::move(socket), nullptr);
    const asio::any_io_executor ex = c->executor();
    asio::dispatch(ex, [c = std::move(c)] { c->start(); });
  }
}

void close_connections(io_worker& worker, close_scope scope) {
  // Collect first: close_now() erases from the list we would be iterating.
  std::vector<std::shared_ptr<connection_base>> live;
  {
    base::mutex_lock lock(worker.connections_mu);
    for (auto it = worker.connections.begin(); it != worker.connections.end();) {
      if (auto c = it->lock()) {
        live.push_back(std::move(c));
        ++it;
      } else {
        it = worker.connections.erase(it);  // died without finish(); see ~connection
      }
    }
  }
  for (auto& c : live) {
    const asio::any_io_executor ex = c->executor();
    asio::dispatch(ex, [c = std::move(c), scope] {
      if (scope == close_scope::all || !c->in_flight()) c->close_now();
    });
  }
}

}  // namespace adclick::http::detail
