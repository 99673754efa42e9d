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

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/router.h"
#include "http/server.h"

namespace adclick::http::detail {

class connection;

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
};

// Shared by the server object and every connection (a connection may outlive
// the server while a handler holds its responder).
struct server_core {
  server_core(server_options o, const router& r) : options(std::move(o)), routes(r) {}

  // Constant after construction.
  const server_options options;
  const router routes;

  std::atomic<bool> ready{false};
  // Set once by server::stop(); connections then close after their response.
  std::atomic<bool> stopping{false};
  server_counters counters;

  // Requests in flight: from a complete header until the response is written
  // (or the connection dies). server::stop() waits for zero.
  void begin_exchange() {
    std::lock_guard lock(inflight_mu);
    ++inflight;
  }
  void end_exchange() {
    std::lock_guard lock(inflight_mu);
    if (--inflight == 0) inflight_cv.notify_all();
  }
  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  std::uint64_t inflight = 0;  // guarded by inflight_mu
};

// One I/O thread with its io_context, acceptor and connections. Connections
// hold a shared_ptr to their worker, so the io_context outlives every socket
// on it even when a handler keeps a connection alive past the server.
struct io_worker {
  explicit io_worker(std::shared_ptr<server_core> c) : core(std::move(c)) {}

  // Posts `f` to run on this worker's I/O thread, unless the server has
  // finished stopping (then `f` is dropped and false returned). Any thread.
  // Why a gate: after stop() drained the io_context, nothing may be queued
  // there again, or the handler would keep its connection (and with it this
  // worker) alive forever.
  template <class F>
  bool post(F&& f) {
    std::lock_guard lock(post_mu);
    if (!accepting_posts) return false;
    boost::asio::post(ioc, std::forward<F>(f));
    return true;
  }

  const std::shared_ptr<server_core> core;  // constant
  // Declared before the I/O objects below, so it is destroyed after them.
  boost::asio::io_context ioc{1};  // run by `thread` alone

  // Owned by the I/O thread while it runs, then by server::stop() after join.
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  boost::asio::steady_timer accept_retry{ioc};  // backs off after EMFILE and the like
  std::list<std::weak_ptr<connection>> connections;  // open connections, for stop()
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;

  std::mutex post_mu;
  bool accepting_posts = true;  // guarded by post_mu; false once stop() drained ioc
};

// connection.cc: starts serving an accepted socket. I/O thread of `worker`.
void start_connection(const std::shared_ptr<io_worker>& worker,
                      boost::asio::ip::tcp::socket socket);

// connection.cc: closes the worker's connections (all of them, or only those
// without a request in flight). I/O thread of `worker`, or after it joined.
enum class close_scope { idle_only, all };
void close_connections(io_worker& worker, close_scope scope);

}  // namespace adclick::http::detail
