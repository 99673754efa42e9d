#pragma once
// One HTTP/1.1 connection: reads a request, hands it to a handler, writes
// the response the handler sends back (possibly from another thread), and
// repeats while keep-alive allows. One request at a time: the next one is
// not read before the response is written, so pipelined requests are
// answered in order. The same code serves plain TCP and TLS (a template on
// the stream type); a TLS connection first completes its handshake, within
// the header timeout.
//
// Every member function except post_response() and executor() runs on the
// connection's executor: the worker's single I/O thread (per_thread model),
// or a strand of the shared io_context (shared model); after the I/O threads
// are joined, on the thread in server::stop().

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/connection_base.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server_state.h"

namespace adclick::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Asio's SSL stream directly, not beast::ssl_stream: the latter's
// flat_stream (Boost 1.74) writes nothing, and so ends async_write early,
// when the buffer sequence it is given starts with an empty buffer, which
// is what async_write passes after consuming the head of a gathered write.
using tls_stream = asio::ssl::stream<beast::tcp_stream>;

class stream_handle;

template <class Stream>
class connection final : public connection_base {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, tls_stream>;

  connection(std::shared_ptr<io_worker> worker, tcp::socket socket,
             std::shared_ptr<asio::ssl::context> tls);
  ~connection() override;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void start();
  void close_now() override { finish(); }
  bool in_flight() const override { return in_flight_; }
  const asio::any_io_executor& executor() const override { return executor_; }
  bool post_response(response r) override;
  void count_handler_error() override {
    core_.counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
  }
  void stream_enqueue(std::string bytes) override;
  void stream_close() override;

 private:
  enum class phase { idle, header, body, handling, writing, streaming, closing };

  void read_request();
  void wait_idle();
  void on_idle_read(beast::error_code ec, std::size_t n);
  void read_header();
  void on_header(beast::error_code ec, std::size_t n);
  void on_continue_written(beast::error_code ec, std::size_t n);
  void read_body();
  void on_body(beast::error_code ec, std::size_t n);
  void read_failed(beast::error_code ec, const char* what);
  void dispatch();
  void route(const responder& respond);
  void send_error(int status, std::string_view code, std::string_view message);
  void send(response r);
  void on_write(beast::error_code ec, std::size_t n);
  void linger_close();
  void drain();
  void start_streaming();
  void on_stream_read(beast::error_code ec, std::size_t n);
  void write_stream_front();
  void on_stream_write(beast::error_code ec, std::size_t n);
  void on_handshake(beast::error_code ec);
  void on_drain(beast::error_code ec, std::size_t n);
  void fail(beast::error_code ec, const char* what);
  void finish();
  void begin_exchange();
  void end_exchange();

  Stream make_stream(tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls_);
    } else {
      return Stream(std::move(socket));
    }
  }
  std::shared_ptr<connection> self() {
    return std::static_pointer_cast<connection>(shared_from_this());
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // Declared first so that it is destroyed last: the worker owns the
  // io_context that stream_ is registered with.
  const std::shared_ptr<io_worker> worker_;
  server_core& core_;  // owned by worker_
  // TLS: the certificate and key this connection was accepted with (a
  // reload does not touch connections already open). Null for plain TCP.
  const std::shared_ptr<asio::ssl::context> tls_;

  Stream stream_;
  const asio::any_io_executor executor_;  // stream_'s, copied for other threads
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  request request_;  // views into *parser_; what the handler gets
  // The response being written, alive until its write completes: the head
  // is formatted here by send() (its capacity is reused from response to
  // response), the body is the handler's.
  std::string head_;
  std::string body_;
  bool write_keep_alive_ = false;  // the connection stays open after this write
  // A streamed response (see response::on_stream_open): its opener until the
  // head is written, then its handle and the bytes waiting to be written.
  std::function<void(std::shared_ptr<event_stream>)> stream_opener_;
  std::shared_ptr<stream_handle> stream_handle_;
  std::deque<std::string> stream_queue_;
  std::size_t stream_queued_bytes_ = 0;
  bool stream_writing_ = false;
  bool stream_closing_ = false;

  std::array<std::uint8_t, 16> client_addr_{};
  std::uint8_t client_family_ = 0;
  std::list<std::weak_ptr<connection_base>>::iterator registry_pos_;
  phase phase_ = phase::header;
  unsigned version_ = 11;       // of the current request (11 until its header is read)
  bool keep_alive_ = false;     // the current request allows another one after it
  bool close_after_write_ = false;
  bool first_request_ = true;
  bool in_flight_ = false;
  bool finished_ = false;       // the socket is closed; handlers return at once
  std::size_t lingered_ = 0;    // bytes discarded while lingering
};

}  // namespace adclick::http::detail
