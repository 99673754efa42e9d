#pragma once
// Internal to adclick_http (includes Asio; only src/http/*.cc include it):
// the state that the server, its I/O threads and its connections share.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "base/mutex.h"
#include "http/router.h"
#include "http/server.h"

namespace adclick::http::detail {

class connection_base;

// Counters behind server_stats; relaxed atomics, bumped from I/O threads.
struct server_counters {
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses_2xx{0}, responses_3xx{0}, responses_4xx{0},
      responses_5xx{0};
  std::atomic<std::uint64_t> request_timeouts{0};
  std::atomic<std::uint64_t> idle_timeouts{0};
  std::atomic<std::uint64_t> write_timeouts{0};
  std::atomic<std::uint64_t> handler_errors{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};
};

// Shared by the server object and every connection (a connection may outlive
// the server while a handler holds its responder).
struct server_core {
  server_core(server_options o, const router& r)
      : options(std::move(o)), first_routes(std::make_unique<const router>(r)), routes(first_routes.get()) {}

  // Constant after construction.
  const server_options options;

  // The routes requests are dispatched to: those given at construction until
  // server::serve_routes() replaces them. Both stay alive as long as the core
  // (a request dispatched just before the switch still runs on the old ones).
  const router& current_routes() const { return *routes.load(std::memory_order_acquire); }
  const std::unique_ptr<const router> first_routes;
  std::unique_ptr<const router> later_routes;  // set once, by serve_routes()
  std::atomic<const router*> routes;

  std::atomic<bool> ready{false};

  // HTTPS: the certificate and key new connections are accepted with; null
  // for plain HTTP. server::reload_tls() swaps it; a connection keeps the
  // one it started with.
  std::shared_ptr<boost::asio::ssl::context> tls_context() const {
    base::mutex_lock lock(tls_mu);
    return tls;
  }
  void set_tls_context(std::shared_ptr<boost::asio::ssl::context> c) {
    base::mutex_lock lock(tls_mu);
    tls = std::move(c);
  }
  mutable base::mutex tls_mu;
  std::shared_ptr<boost::asio::ssl::context> tls GUARDED_BY(tls_mu);

  // Set once by server::stop(); connections then close after their response.
  std::atomic<bool> stopping{false};
  server_counters counters;

  // Requests in flight: from a complete header until the response is written
  // (or the connection dies). server::stop() waits for zero.
  void begin_exchange() {
    base::mutex_lock lock(inflight_mu);
    ++inflight;
  }
  void end_exchange() {
    base::mutex_lock lock(inflight_mu);
    if (--inflight == 0) inflight_cv.notify_all();
  }
  base::mutex inflight_mu;
  std::condition_variable inflight_cv;
  std::uint64_t inflight GUARDED_BY(inflight_mu) = 0;
};

// An io_context with its acceptor, its connections and the threads that
// run it: one thread per worker in the per_thread model, all of them on the
// single worker in the shared model. Connections hold a shared_ptr to their
// worker, so the io_context outlives every socket on it even when a handler
// keeps a connection alive past the server.
struct io_worker {
  io_worker(std::shared_ptr<server_core> c, int run_threads)
      : core(std::move(c)), shared(run_threads > 1), ioc(run_threads) {}

  // Posts `f` to run on `ex` (a connection's executor on this worker),
  // unless the server has finished stopping (then `f` is dropped and false
  // returned). Any thread. Why a gate: after stop() drained the io_context,
  // nothing may be queued there again, or the handler would keep its
  // connection (and with it this worker) alive forever.
  template <class Executor, class F>
  bool post(const Executor& ex, F&& f) {
    base::mutex_lock lock(post_mu);
    if (!accepting_posts) return false;
    boost::asio::post(ex, std::forward<F>(f));
    return true;
  }

  const std::shared_ptr<server_core> core;  // constant
  // Several threads run ioc: every connection then gets its own strand.
  const bool shared;
  // Declared before the I/O objects below, so it is destroyed after them.
  boost::asio::io_context ioc;
  // The acceptor and its retry timer live on this strand (it costs nothing
  // with one thread, and serialises accept and stop() with several).
  boost::asio::strand<boost::asio::io_context::executor_type> accept_strand{
      boost::asio::make_strand(ioc)};

  // Used on accept_strand while the threads run, then by server::stop()
  // after join.
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  boost::asio::steady_timer accept_retry{accept_strand};  // backs off after EMFILE and the like
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  base::mutex connections_mu;
  std::list<std::weak_ptr<connection_base>> connections GUARDED_BY(connections_mu);  // for stop()

  base::mutex post_mu;
  bool accepting_posts GUARDED_BY(post_mu) = true;  // false once stop() drained ioc
};

// connection.cc: starts serving an accepted socket. I/O thread of `worker`.
void start_connection(const std::shared_ptr<io_worker>& worker,
                      boost::asio::ip::tcp::socket socket);

// connection.cc: closes the worker's connections (all of them, or only those
// without a request in flight), each on its own executor: at once where the
// caller already runs there, else queued. Any thread.
enum class close_scope { idle_only, all };
void close_connections(io_worker& worker, close_scope scope);

}  // namespace adclick::http::detail
