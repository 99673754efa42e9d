// The server object: binds the acceptors (one SO_REUSEPORT acceptor per I/O
// thread, or one shared), runs the accept loops, and stops everything in
// order. Connections live in
// connection.cc.

#include "http/server.h"

#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>
#include <spdlog/spdlog.h>

#include "base/mutex.h"
#include "http/server_state.h"
#include "http/tls.h"

namespace adclick::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using detail::io_worker;

// Asio has no named option for it; Linux balances incoming connections over
// all sockets bound with it to the same address and port.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// How long an acceptor pauses after a failure such as EMFILE, instead of
// spinning on an error that needs a connection to go away first.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

// Boost's system and generic categories as the std ones, so that callers can
// compare with std::errc.
std::error_code to_std(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    return {ec.value(), std::system_category()};
  }
  if (ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::generic_category()};
  }
  return ec;  // Boost.System's own conversion
}

boost::system::error_code open_acceptor(io_worker& w, const tcp::endpoint& ep) {
  boost::system::error_code ec;
  auto& a = w.acceptor.emplace(w.accept_strand);
  a.open(ep.protocol(), ec);
  if (ec) return ec;
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return ec;
  a.set_option(reuse_port(true), ec);
  if (ec) return ec;
  a.bind(ep, ec);
  if (ec) return ec;
  a.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

// SO_REUSEPORT would let us share the port with another process of the same
// user that listens there with it too (another adclick). A socket without
// it cannot bind while anybody listens on the port, so this bind tells us
// whether the port is taken. (A race with a process binding right after the
// probe remains; it is a narrow window at startup.)
boost::system::error_code probe_port(asio::io_context& ioc, const tcp::endpoint& ep) {
  boost::system::error_code ec;
  tcp::acceptor probe(ioc);
  probe.open(ep.protocol(), ec);
  if (ec) return ec;
  // reuse_address only forgives TIME_WAIT leftovers, not a listener.
  probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return ec;
  probe.bind(ep, ec);
  return ec;
}

void accept_next(const std::shared_ptr<io_worker>& w);

void on_accept(const std::shared_ptr<io_worker>& w, boost::system::error_code ec,
               tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;  // stop() closed the acceptor
  if (w->core->stopping.load(std::memory_order_acquire)) {
    // Completed just before stop() closed the acceptor: refuse the socket
    // (its destructor closes it), and do not re-arm on a closed acceptor.
    return;
  }
  if (ec) {
    spdlog::warn("http: accept: {}", ec.message());
    // Running out of descriptors or memory will not pass by retrying at once.
    w->accept_retry.expires_after(kAcceptRetryDelay);
    w->accept_retry.async_wait([w](boost::system::error_code wait_ec) {
      if (!wait_ec && w->acceptor && w->acceptor->is_open()) accept_next(w);
    });
    return;
  }
  auto& counters = w->core->counters;
  const std::uint64_t open = counters.connections_open.fetch_add(1, std::memory_order_relaxed);
  if (open >= w->core->options.max_connections) {
    // Over the cap: closing at once costs less than keeping the client
    // waiting in the backlog, and tells it to go elsewhere.
    counters.connections_open.fetch_sub(1, std::memory_order_relaxed);
    counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code close_ec;
    socket.close(close_ec);
  } else {
    counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    detail::start_connection(w, std::move(socket));
  }
  accept_next(w);
}

void accept_next(const std::shared_ptr<io_worker>& w) {
  // Connections are served on the acceptor's own io_context; with several
  // threads on it, each on a strand of its own. The completion runs on the
  // acceptor's strand (its associated executor).
  auto on_done = asio::bind_executor(
      w->accept_strand, [w](boost::system::error_code ec, tcp::socket socket) {
        on_accept(w, ec, std::move(socket));
      });
  if (w->shared) {
    w->acceptor->async_accept(asio::make_strand(w->ioc), std::move(on_done));
  } else {
    w->acceptor->async_accept(w->ioc, std::move(on_done));
  }
}

// True on this server's (any server's) I/O threads; stop() refuses to run
// there, since it joins them.
thread_local bool t_on_io_thread = false;

// The body of an I/O thread. An exception escaping a completion handler
// must not end the thread (the connections on it would hang): log it and
// keep running.
void run_io(io_worker& w) {
  t_on_io_thread = true;
  for (;;) {
    try {
      w.ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("http: uncaught exception on an I/O thread: {}", e.what());
    } catch (...) {
      spdlog::error("http: uncaught non-standard exception on an I/O thread");
    }
  }
}

}  // namespace

server::server(server_options options, const router& routes)
    : core_(std::make_shared<detail::server_core>(std::move(options), routes)) {}

server::~server() {
  try {
    stop();
  } catch (const std::exception& e) {  // a destructor must not throw (stop() locks mutexes)
    spdlog::error("http: stopping the server failed: {}", e.what());
  }
}

std::error_code server::start() {
  std::string error_line;
  auto ec = start(error_line);
  if (ec && !error_line.empty()) spdlog::error("http: {}", error_line);
  return ec;
}

std::error_code server::reload_tls(std::string& error_line) {
  const server_options& o = core_->options;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    error_line = "TLS is not configured";
    return std::make_error_code(std::errc::operation_not_supported);
  }
  auto ctx = detail::make_tls_context(o.tls_cert_file, o.tls_key_file, error_line);
  if (!ctx) return std::make_error_code(std::errc::invalid_argument);
  core_->set_tls_context(std::move(ctx));
  return {};
}

std::error_code server::start(std::string& error_line) {
  base::mutex_lock lock(lifecycle_mu_);
  if (state_ != lifecycle::created) return std::make_error_code(std::errc::operation_not_permitted);
  const server_options& o = core_->options;
  if (o.threads < 1) return std::make_error_code(std::errc::invalid_argument);
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (auto tls_ec = reload_tls(error_line)) return tls_ec;
  }

  boost::system::error_code ec;
  const asio::ip::address addr =
      o.host == "localhost" ? asio::ip::address(asio::ip::address_v4::loopback())
                            : asio::ip::make_address(o.host, ec);
  if (ec) return to_std(ec);
  tcp::endpoint ep(addr, o.port);

  // per_thread: `threads` workers of one thread each; shared: one worker
  // that all the threads run.
  const bool shared = o.model == io_model::shared;
  const int worker_count = shared ? 1 : o.threads;
  const int threads_per_worker = shared ? o.threads : 1;
  std::vector<std::shared_ptr<io_worker>> workers;
  workers.reserve(static_cast<std::size_t>(worker_count));
  for (int i = 0; i < worker_count; ++i) {
    auto w = std::make_shared<io_worker>(core_, threads_per_worker);
    if (i == 0 && o.port != 0) {
      if (auto probe_ec = probe_port(w->ioc, ep)) return to_std(probe_ec);
    }
    if (auto bind_ec = open_acceptor(*w, ep)) return to_std(bind_ec);
    // The first acceptor learns the port (for port 0); the rest join it.
    if (i == 0) ep.port(w->acceptor->local_endpoint().port());
    workers.push_back(std::move(w));
  }

  for (const auto& w : workers) {
    w->work.emplace(asio::make_work_guard(w->ioc));
    accept_next(w);
    for (int t = 0; t < threads_per_worker; ++t) {
      w->threads.emplace_back([w] { run_io(*w); });
    }
  }
  workers_ = std::move(workers);
  port_.store(ep.port(), std::memory_order_release);
  state_ = lifecycle::running;
  spdlog::info("http: listening on {}:{} ({}) with {} I/O threads ({})", o.host, ep.port(),
               o.redirect_https_port ? "redirects to HTTPS"
               : core_->tls_context() ? "HTTPS"
                                      : "HTTP",
               o.threads, shared ? "one shared io_context" : "one io_context each");
  return {};
}

std::error_code server::serve_routes(router routes) {
  base::mutex_lock lock(lifecycle_mu_);
  if (core_->later_routes) return std::make_error_code(std::errc::operation_not_permitted);
  core_->later_routes = std::make_unique<const router>(std::move(routes));
  core_->routes.store(core_->later_routes.get(), std::memory_order_release);
  return {};
}

void server::set_ready(bool ready) { core_->ready.store(ready, std::memory_order_release); }

bool server::ready() const { return core_->ready.load(std::memory_order_acquire); }

void server::stop() {
  if (t_on_io_thread) {
    // It would join its own thread (or wait for a stop() that joins it).
    spdlog::error("http: server::stop() called on an I/O thread; ignored");
    return;
  }
  base::mutex_lock lock(lifecycle_mu_);
  if (state_ != lifecycle::running) {
    state_ = lifecycle::stopped;
    return;
  }
  core_->ready.store(false, std::memory_order_release);
  core_->stopping.store(true, std::memory_order_release);

  // 1. No new connections; connections without a request in flight go now.
  for (const auto& w : workers_) {
    asio::post(w->accept_strand, [w] {
      boost::system::error_code ec;
      w->acceptor->close(ec);
      w->accept_retry.cancel();
    });
    detail::close_connections(*w, detail::close_scope::idle_only);
  }

  // 2. Requests in flight get the grace period to be answered and written.
  {
    const auto deadline = std::chrono::steady_clock::now() + core_->options.shutdown_grace;
    base::mutex_lock inflight_lock(core_->inflight_mu);
    while (core_->inflight != 0 && inflight_lock.wait_until(core_->inflight_cv, deadline)) {
    }
    if (core_->inflight != 0) {
      spdlog::warn("http: stop: {} requests still in flight after the grace period; closing",
                   core_->inflight);
    }
  }

  // 3. Stop the I/O threads.
  for (const auto& w : workers_) {
    w->work.reset();
    w->ioc.stop();
  }
  for (const auto& w : workers_) {
    for (auto& t : w->threads) t.join();
  }

  // 4. This thread now owns the workers' I/O objects. Close everything,
  //    shut the gate so that late responders queue nothing more, and run
  //    what is queued (aborted operations, late responses) so that no
  //    handler is left holding a connection.
  for (const auto& w : workers_) {
    boost::system::error_code ec;
    w->acceptor->close(ec);
    w->accept_retry.cancel();
    detail::close_connections(*w, detail::close_scope::all);
    {
      base::mutex_lock post_lock(w->post_mu);
      w->accepting_posts = false;
    }
    w->ioc.restart();
    try {
      // Until nothing is left: closing queues the aborted completions.
      while (w->ioc.poll() > 0) {
      }
    } catch (const std::exception& e) {
      spdlog::error("http: stop: exception while draining: {}", e.what());
    }
  }
  state_ = lifecycle::stopped;
  spdlog::info("http: stopped");
}

server_stats server::stats() const {
  const auto& c = core_->counters;
  const auto get = [](const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  server_stats s;
  s.connections_open = get(c.connections_open);
  s.connections_accepted = get(c.connections_accepted);
  s.connections_refused = get(c.connections_refused);
  s.requests = get(c.requests);
  s.responses_2xx = get(c.responses_2xx);
  s.responses_3xx = get(c.responses_3xx);
  s.responses_4xx = get(c.responses_4xx);
  s.responses_5xx = get(c.responses_5xx);
  s.request_timeouts = get(c.request_timeouts);
  s.idle_timeouts = get(c.idle_timeouts);
  s.write_timeouts = get(c.write_timeouts);
  s.handler_errors = get(c.handler_errors);
  s.tls_handshake_failures = get(c.tls_handshake_failures);
  return s;
}

}  // namespace adclick::http
