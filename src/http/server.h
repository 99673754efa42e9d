#pragma once
// The HTTP/1.1 front end of adclick: a Beast server with keep-alive, limits
// and timeouts, serving a router plus the built-in /healthz and /readyz.
// No Beast or Asio types cross this header (they stay in src/http/*.cc, so
// that including it costs other subsystems nothing at build time).
//
// Threading, two models (server_options::model):
//  - per_thread (the default): `threads` I/O threads, each running its own
//    io_context with its own SO_REUSEPORT acceptor on the same port; a
//    connection lives on the thread that accepted it.
//  - shared: one io_context run by `threads` threads, one acceptor; each
//    connection is a strand, so its handlers never run concurrently but may
//    run on any of the threads.
// Handlers run on the connection's I/O thread (strand) and may answer later
// from any thread (see responder).
//
// HTTPS: with tls_cert_file and tls_key_file set, every connection is TLS
// (1.2 or 1.3 only, forward-secret AEAD ciphers). reload_tls() re-reads the
// files for new connections; open ones keep the certificate they started with.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "base/mutex.h"
#include "http/router.h"

namespace adclick::http {

namespace detail {
struct server_core;
struct io_worker;
}  // namespace detail

enum class io_model { per_thread, shared };

struct server_options {
  // An IPv4 or IPv6 literal (no brackets), or "localhost" (127.0.0.1).
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port; server::port() tells which
  int threads = 2;            // I/O threads, at least 1
  io_model model = io_model::per_thread;
  // Open connections beyond this are accepted and closed at once (refused).
  std::uint32_t max_connections = 10000;
  // From accept (or from the first byte of a later request on a keep-alive
  // connection) until the whole header is in; then the connection is
  // closed without an answer (slowloris).
  std::chrono::milliseconds header_timeout{10000};
  // From the end of the header until the whole body is in.
  std::chrono::milliseconds body_timeout{10000};
  // Keep-alive: from the end of a response until the next request's first byte.
  std::chrono::milliseconds idle_timeout{60000};
  // To write one response (a client that does not read is cut off).
  std::chrono::milliseconds write_timeout{10000};
  // stop(): how long requests already in flight may take to be answered.
  std::chrono::milliseconds shutdown_grace{5000};
  std::uint64_t max_header_bytes = 8192;     // request line + headers; over it: 431, close
  std::uint64_t max_body_bytes = 1 << 20;    // over it: 413, close
  // HTTPS: PEM files of the certificate chain and of its private key. Both
  // empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Non-empty: the value of a Strict-Transport-Security header on every
  // response (HTTPS only; the caller leaves it empty for plain HTTP).
  std::string strict_transport_security;
  // Set: a redirect-only listener. Every request (the router is not used)
  // gets a 308 to https://<its Host, without port>:<this port><target>; a
  // request without a usable Host gets a 400.
  std::optional<std::uint16_t> redirect_https_port;
};

// A snapshot of the server's counters (each read atomically, not all at one
// instant).
struct server_stats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;  // counted against max_connections
  std::uint64_t connections_refused = 0;   // over max_connections
  std::uint64_t requests = 0;              // complete requests dispatched (built-ins included)
  // Responses written, by status class (error answers such as 431 included).
  std::uint64_t responses_2xx = 0, responses_3xx = 0, responses_4xx = 0, responses_5xx = 0;
  std::uint64_t request_timeouts = 0;  // header_timeout or body_timeout hit
  std::uint64_t idle_timeouts = 0;     // idle_timeout hit on a keep-alive connection
  std::uint64_t write_timeouts = 0;
  std::uint64_t handler_errors = 0;  // handlers that threw, dropped or misused their responder
  std::uint64_t tls_handshake_failures = 0;
};

class server {
 public:
  // Copies `routes`: what requests are dispatched to until serve_routes().
  // Built-in routes (GET /healthz, GET /readyz) take precedence over routes
  // registered for those paths.
  server(server_options options, const router& routes);
  // Stops (see stop()).
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds, listens and starts the I/O threads. Fails (and starts nothing)
  // when the address cannot be bound, e.g. std::errc::address_in_use, also
  // when another process listens there with SO_REUSEPORT; on a bad host;
  // when threads < 1; or when called a second time. Call from the owning
  // thread.
  [[nodiscard]] std::error_code start();
  // The same, with one line saying what went wrong (a TLS file that cannot
  // be loaded is named there).
  [[nodiscard]] std::error_code start(std::string& error_line);

  // HTTPS: reads the certificate and key files again; connections accepted
  // from now on use them, open ones keep theirs (nothing is dropped). On
  // failure the old ones stay in use and `error_line` says why. Any thread.
  [[nodiscard]] std::error_code reload_tls(std::string& error_line);

  // The bound port after a successful start(); 0 before. Any thread.
  std::uint16_t port() const { return port_.load(std::memory_order_acquire); }

  // Requests dispatched from now on go to `routes` instead of those given at
  // construction (a server can listen, and answer /healthz, before what the
  // full routes use is built). Once: a second call returns
  // std::errc::operation_not_permitted and changes nothing. Any thread.
  [[nodiscard]] std::error_code serve_routes(router routes);

  // /readyz answers 200 {"ready":true} while true, else 503 {"ready":false}.
  // False until called; stop() sets it false. Any thread.
  void set_ready(bool ready);
  bool ready() const;

  // Stops accepting, closes connections that have no request in flight,
  // waits up to shutdown_grace for the requests in flight to be answered
  // and written, then closes every connection and joins the I/O threads.
  // Idempotent; blocks. Call from any thread except an I/O thread (a handler).
  // Responders still held by handlers afterwards are harmless to call or drop.
  void stop();

  server_stats stats() const;

 private:
  enum class lifecycle { created, running, stopped };

  // Constant after construction; shared with connections, which may outlive
  // the server while a handler still holds their responder.
  const std::shared_ptr<detail::server_core> core_;

  base::mutex lifecycle_mu_;  // serialises start() and stop()
  lifecycle state_ GUARDED_BY(lifecycle_mu_) = lifecycle::created;
  std::vector<std::shared_ptr<detail::io_worker>> workers_ GUARDED_BY(lifecycle_mu_);
  std::atomic<std::uint16_t> port_{0};
};

}  // namespace adclick::http
