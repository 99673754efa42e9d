// loadgen: an HTTP/1.1 load generator for adclick's click path.
//
// Keeps --connections keep-alive connections to the server and sends signed
// `GET /click?adId=..&impressionId=..&signature=..` requests, either
//   closed-loop (--rate 0): each connection sends its next request as soon as
//     the previous response has arrived, so the figure is the throughput the
//     server sustains with that many clients; or
//   open-loop (--rate R): request i is due at t0 + i/R whatever the server
//     does. Its latency runs from that intended time, so a request that waits
//     for a free connection (the server is slow or stalled) carries the wait:
//     no coordinated omission.
// It prints what it ran, the achieved request rate, latency percentiles, the
// responses by status and the errors.
//
//   loadgen [--host 127.0.0.1] [--port 8080] [--connections 64] [--threads 1]
//           [--rate 0] [--duration 10] [--warmup 1] [--timeout 10]
//           [--key-id k1] [--key-base64 B64] [--ttl 3600] [--ads 1000] [--zipf 1.0]
//           [--dup-fraction 0] [--invalid-fraction 0] [--presign 0] [--seed 0]
//           [--register --admin-token TOKEN [--advertiser adv-1]] [--json]
//           [--interval 0]
//   loadgen --emit-urls N --out FILE [click options]     (a path list for wrk)
//
// Threads: each of --threads workers owns an io_context, its share of the
// connections and of the rate, and its own counters and histogram; nothing
// is shared while a phase runs except constants, the registration counter
// and the fatal-error slot. The figures are merged after the threads join.

#include <fmt/format.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ingest/signature.h"
#include "loadgen_clicks.h"
#include "loadgen_histogram.h"
#include "loadgen_http.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using adclick::bench::click_kind;
using adclick::bench::latency_histogram;
using adclick::bench::response_parser;

namespace {

constexpr char kDemoKeyBase64[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::size_t kReadBufferBytes = 16 * 1024;
// After a failed connect, wait this long before the next attempt, so a server
// that is down costs a few attempts per second per connection, not a spin.
constexpr auto kReconnectBackoff = std::chrono::milliseconds(100);
// Workers start sending this long after the plan is made, so that their
// connections are usually open by t0 (and anyway inside the warmup).
constexpr auto kStartDelay = std::chrono::milliseconds(200);

// Options as given on the command line.
struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::uint32_t connections = 64;
  std::uint32_t threads = 1;
  double rate = 0;
  double duration_s = 10;
  double warmup_s = 1;
  double timeout_s = 10;
  std::string key_id = "k1";
  std::string key_base64 = kDemoKeyBase64;
  adclick::bench::click_options clicks;
  std::uint64_t presign = 0;
  std::uint64_t seed = 0;
  bool do_register = false;
  std::string admin_token;
  std::string advertiser = "adv-1";
  bool json = false;
  double interval_s = 0;  // > 0: slow responses counted per interval of intended time
  std::uint64_t emit_urls = 0;
  std::string out;
};

// Outcomes of requests. Responses and request errors are counted for the
// requests whose intended send time falls in the measured window; connect
// errors for attempts made after the warmup.
struct outcomes {
  std::array<std::uint64_t, 1000> by_status{};
  std::uint64_t no_location = 0;     // 302 without a Location header
  std::uint64_t refused = 0;         // connect: connection refused
  std::uint64_t connect_failed = 0;  // connect: any other error
  std::uint64_t reset = 0;           // reset, broken pipe, or closed inside a response
  std::uint64_t closed = 0;          // the server closed the connection instead of answering
  std::uint64_t timeout = 0;         // no complete response (or connect) within --timeout
  std::uint64_t bad_response = 0;    // not parseable as HTTP/1.x

  std::uint64_t errors() const {
    return refused + connect_failed + reset + closed + timeout + bad_response;
  }
  std::uint64_t status_other() const {
    std::uint64_t n = 0;
    for (std::size_t s = 0; s < by_status.size(); ++s) {
      if (s != 302 && s != 404 && s != 400) n += by_status[s];
    }
    return n;
  }
  void merge(const outcomes& o) {
    for (std::size_t s = 0; s < by_status.size(); ++s) by_status[s] += o.by_status[s];
    no_location += o.no_location;
    refused += o.refused;
    connect_failed += o.connect_failed;
    reset += o.reset;
    closed += o.closed;
    timeout += o.timeout;
    bad_response += o.bad_response;
  }
};

// The responses whose requests were intended in one interval of the window,
// and how many of them were slow: says when the slow ones came.
struct interval_stats {
  static constexpr std::uint64_t kSlowMicros[] = {50'000, 250'000, 1'000'000};
  std::uint64_t responses = 0;
  std::uint64_t slower[std::size(kSlowMicros)] = {};  // over each of kSlowMicros
  std::uint64_t max_micros = 0;

  void record(std::uint64_t micros) {
    ++responses;
    for (std::size_t i = 0; i < std::size(kSlowMicros); ++i) slower[i] += micros > kSlowMicros[i] ? 1 : 0;
    max_micros = std::max(max_micros, micros);
  }
  void merge(const interval_stats& o) {
    responses += o.responses;
    for (std::size_t i = 0; i < std::size(kSlowMicros); ++i) slower[i] += o.slower[i];
    max_micros = std::max(max_micros, o.max_micros);
  }
};

struct worker_stats {
  latency_histogram latency;  // requests intended in the window, answered
  std::vector<interval_stats> intervals;  // with --interval, by intended time
  outcomes counted;
  std::uint64_t completed_in_window = 0;  // responses received inside the window
  std::uint64_t sent[3] = {0, 0, 0};      // by click_kind, whole run incl. warmup
  std::uint64_t presigned_repeats = 0;    // sends that wrapped around the --presign ring
  std::uint64_t backlog_max = 0;          // open loop: most requests due but not yet sent
  // Requests intended in the window = sent_in_window + unsent. Each sent one
  // ends as a response, a request error, or abandoned.
  std::uint64_t sent_in_window = 0;
  std::uint64_t unsent = 0;     // open loop: still queued when the drain ran out
  std::uint64_t abandoned = 0;  // in flight when the drain after the end ran out
  std::uint64_t registered = 0;

  void merge(const worker_stats& o) {
    latency.merge(o.latency);
    if (intervals.size() < o.intervals.size()) intervals.resize(o.intervals.size());
    for (std::size_t i = 0; i < o.intervals.size(); ++i) intervals[i].merge(o.intervals[i]);
    counted.merge(o.counted);
    completed_in_window += o.completed_in_window;
    for (int i = 0; i < 3; ++i) sent[i] += o.sent[i];
    presigned_repeats += o.presigned_repeats;
    backlog_max += o.backlog_max;  // an upper bound over workers: their peaks need not coincide
    sent_in_window += o.sent_in_window;
    unsent += o.unsent;
    abandoned += o.abandoned;
    registered += o.registered;
  }
};

// The first fatal error of a phase (registration failed, bad setup); the
// workers stop when one is set. Any thread may set or read it.
class fatal_error {
 public:
  void set(std::string message) {
    std::lock_guard lock(mu_);
    if (!message_) message_ = std::move(message);
    set_.store(true, std::memory_order_release);
  }
  bool is_set() const { return set_.load(std::memory_order_acquire); }
  std::optional<std::string> message() const {
    std::lock_guard lock(mu_);
    return message_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<std::string> message_;  // guarded by mu_
  std::atomic<bool> set_{false};
};

struct presigned_click {
  std::string path;
  click_kind kind;
};

enum class phase { register_ads, load };

// What a phase runs; constant while it runs (except the atomics it points at).
struct plan {
  phase what = phase::load;
  tcp::endpoint endpoint;
  std::string host_header;  // "host:port"
  std::uint32_t threads = 1;
  clock_type::duration timeout{};
  // load
  double rate = 0;  // 0: closed loop
  clock_type::time_point t0, t_measure, t_end;
  clock_type::duration interval{};  // zero: no per-interval counts
  const adclick::ingest::signer* signer = nullptr;
  const adclick::bench::zipf_ads* ads = nullptr;
  adclick::bench::click_options clicks;
  std::string run_id;
  std::uint64_t seed = 0;
  const std::vector<presigned_click>* presigned = nullptr;  // empty: sign while running
  // register
  std::uint64_t register_count = 0;
  std::string admin_token;
  std::string advertiser;
  std::atomic<std::uint64_t>* next_ad = nullptr;  // the next ad id to register
  fatal_error* fatal = nullptr;
};

// One keep-alive connection; owned and touched by its worker's thread only.
// At most one socket operation (connect, write or read) is outstanding at a
// time, so each completion handler runs for exactly one step of one request.
struct connection {
  enum class state { closed, connecting, idle, busy };

  explicit connection(asio::io_context& ioc) : socket(ioc), backoff(ioc) {}

  tcp::socket socket;
  asio::steady_timer backoff;
  state st = state::closed;
  std::string request;
  std::vector<char> buf = std::vector<char>(kReadBufferBytes);
  std::size_t buf_len = 0;  // bytes in buf not yet consumed by the parser
  response_parser parser;
  clock_type::time_point intended{};  // latency is measured from here
  clock_type::time_point deadline{};  // of the current connect or request
  bool in_window = false;             // the current request is measured
  bool got_bytes = false;             // any byte of the current response arrived
  bool timed_out = false;             // the sweep closed the socket at the deadline
  std::uint64_t ad = 0;               // registration: the ad being registered
  std::uint64_t retry_ad = 0;         // registration: send this ad again (0: none)
  int closed_in_a_row = 0;            // registration: requests the server closed unanswered
};

class worker {
 public:
  worker(const plan& p, std::uint32_t index, std::uint32_t connections)
      : plan_(p), index_(index), sweep_(ioc_), release_(ioc_) {
    for (std::uint32_t i = 0; i < connections; ++i) {
      conns_.push_back(std::make_unique<connection>(ioc_));
    }
    if (p.what == phase::load && p.presigned->empty()) {
      source_.emplace(*p.signer, *p.ads, p.clicks, p.run_id, index, p.seed + index);
    }
    request_suffix_ =
        fmt::format(" HTTP/1.1\r\nHost: {}\r\nUser-Agent: adclick-loadgen\r\n\r\n", p.host_header);
  }

  // Runs the phase on the calling thread until it is over.
  void run() {
    for (auto& c : conns_) start_connect(*c);
    arm_sweep();
    if (plan_.what == phase::load) {
      if (plan_.rate > 0) {
        arm_release();
      } else {
        release_.expires_at(plan_.t0);
        release_.async_wait([this](boost::system::error_code ec) {
          if (ec || stopping_) return;
          started_ = true;
          auto idle = std::move(idle_);
          idle_.clear();
          for (connection* c : idle) on_idle(*c);
        });
      }
    }
    ioc_.run();
  }

  const worker_stats& stats() const { return stats_; }

 private:
  // --- connections -------------------------------------------------------

  void start_connect(connection& c) {
    c.st = connection::state::connecting;
    c.timed_out = false;
    c.deadline = clock_type::now() + plan_.timeout;
    c.buf_len = 0;
    c.parser.reset();
    c.socket.async_connect(plan_.endpoint,
                           [this, &c](boost::system::error_code ec) { on_connect(c, ec); });
  }

  void on_connect(connection& c, boost::system::error_code ec) {
    if (stopping_) return;
    if (c.timed_out || ec) {
      const bool counted = clock_type::now() >= plan_.t_measure;
      if (c.timed_out) {
        if (counted) ++stats_.counted.timeout;
      } else if (ec == asio::error::connection_refused) {
        if (counted) ++stats_.counted.refused;
      } else {
        if (counted) ++stats_.counted.connect_failed;
      }
      if (plan_.what == phase::register_ads) {
        return fatal(fmt::format("cannot connect to {}: {}", plan_.host_header,
                                 c.timed_out ? "timed out" : ec.message()));
      }
      close(c);
      c.backoff.expires_after(kReconnectBackoff);
      c.backoff.async_wait([this, &c](boost::system::error_code wait_ec) {
        if (!wait_ec && !stopping_) start_connect(c);
      });
      return;
    }
    boost::system::error_code ignored;
    c.socket.set_option(tcp::no_delay(true), ignored);
    c.st = connection::state::idle;
    on_idle(c);
  }

  void close(connection& c) {
    boost::system::error_code ignored;
    c.socket.close(ignored);
    c.st = connection::state::closed;
  }

  // c is open and has nothing in flight: give it the next request, if any.
  void on_idle(connection& c) {
    c.st = connection::state::idle;
    if (stopping_) return;
    if (plan_.fatal->is_set()) return stop();
    if (plan_.what == phase::register_ads) {
      std::uint64_t ad = c.retry_ad;
      if (ad != 0) {
        c.retry_ad = 0;
        --retries_pending_;
      } else {
        ad = plan_.next_ad->fetch_add(1);
        if (ad > plan_.register_count) {
          close(c);
          return maybe_finish();
        }
      }
      c.ad = ad;
      const std::string body = fmt::format(
          R"({{"advertiserId":"{}","url":"https://example.com/ad/{}"}})", plan_.advertiser, ad);
      c.request = fmt::format(
          "PUT /api/v1/ads/{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: adclick-loadgen\r\n"
          "Authorization: Bearer {}\r\nContent-Type: application/json\r\n"
          "Content-Length: {}\r\n\r\n{}",
          ad, plan_.host_header, plan_.admin_token, body.size(), body);
      return send(c, clock_type::now());
    }
    const auto now = clock_type::now();
    if (plan_.rate > 0) {
      if (next_dispatch_ < next_release_) return send_click(c, intended(next_dispatch_++));
    } else if (started_ && now < plan_.t_end) {
      return send_click(c, now);
    }
    idle_.push_back(&c);
    maybe_finish();
  }

  // --- requests ----------------------------------------------------------

  void send_click(connection& c, clock_type::time_point intended_at) {
    c.request.assign("GET ");
    click_kind kind = click_kind::fresh;
    if (source_) {
      c.request.append(source_->next(kind));
    } else {
      const auto& ring = *plan_.presigned;
      const std::uint64_t slot = sends_ * plan_.threads + index_;
      if (slot >= ring.size()) ++stats_.presigned_repeats;
      const auto& click = ring[slot % ring.size()];
      c.request.append(click.path);
      kind = click.kind;
    }
    ++sends_;
    ++stats_.sent[static_cast<int>(kind)];
    c.request.append(request_suffix_);
    send(c, intended_at);
  }

  void send(connection& c, clock_type::time_point intended_at) {
    c.st = connection::state::busy;
    ++busy_;
    c.intended = intended_at;
    c.in_window = intended_at >= plan_.t_measure && intended_at < plan_.t_end;
    if (c.in_window) ++stats_.sent_in_window;
    c.deadline = clock_type::now() + plan_.timeout;
    c.got_bytes = false;
    c.timed_out = false;
    asio::async_write(c.socket, asio::buffer(c.request),
                      [this, &c](boost::system::error_code ec, std::size_t) {
                        if (stopping_) return;
                        if (ec || c.timed_out) return request_failed(c, ec);
                        read_more(c);
                      });
  }

  void read_more(connection& c) {
    if (c.buf_len == c.buf.size()) c.buf.resize(c.buf.size() * 2);  // a long header block
    c.socket.async_read_some(
        asio::buffer(c.buf.data() + c.buf_len, c.buf.size() - c.buf_len),
        [this, &c](boost::system::error_code ec, std::size_t n) { on_read(c, ec, n); });
  }

  void on_read(connection& c, boost::system::error_code ec, std::size_t n) {
    if (stopping_) return;
    if (ec == asio::error::eof && !c.timed_out) {
      if (c.got_bytes && c.parser.finish_at_eof() == response_parser::state::done) {
        return complete(c, /*reusable=*/false);
      }
      return request_failed(c, ec);
    }
    if (ec || c.timed_out) return request_failed(c, ec);
    c.buf_len += n;
    c.got_bytes = true;
    std::size_t consumed = 0;
    const auto st = c.parser.feed(std::string_view(c.buf.data(), c.buf_len), consumed);
    // Keep only what the parser has not consumed (an incomplete header block,
    // or bytes after the response).
    std::memmove(c.buf.data(), c.buf.data() + consumed, c.buf_len - consumed);
    c.buf_len -= consumed;
    switch (st) {
      case response_parser::state::done: return complete(c, c.parser.keep_alive());
      case response_parser::state::error: return request_failed(c, asio::error::invalid_argument);
      case response_parser::state::need_more: return read_more(c);
    }
  }

  void complete(connection& c, bool reusable) {
    --busy_;
    const auto now = clock_type::now();
    const int status = c.parser.status();
    if (plan_.what == phase::register_ads) {
      if (status != 200 && status != 201) {
        return fatal(fmt::format("PUT /api/v1/ads/{} answered {} (expected 200 or 201): {}", c.ad,
                                 status, c.parser.body_start()));
      }
      ++stats_.registered;
      c.closed_in_a_row = 0;
    } else {
      if (c.in_window) {
        const auto micros = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - c.intended).count());
        stats_.latency.record(micros);
        if (plan_.interval.count() > 0) {
          const auto i = static_cast<std::size_t>((c.intended - plan_.t_measure) / plan_.interval);
          if (stats_.intervals.size() <= i) stats_.intervals.resize(i + 1);
          stats_.intervals[i].record(micros);
        }
        ++stats_.counted.by_status[static_cast<std::size_t>(status)];
        if (status == 302 && !c.parser.has_location()) ++stats_.counted.no_location;
      }
      if (now >= plan_.t_measure && now < plan_.t_end) ++stats_.completed_in_window;
    }
    c.parser.reset();
    if (reusable) return on_idle(c);
    close(c);
    if (!finished()) start_connect(c);
    maybe_finish();
  }

  void request_failed(connection& c, boost::system::error_code ec) {
    --busy_;
    const char* what = "reset";
    if (c.timed_out) {
      what = "timed out";
      if (c.in_window) ++stats_.counted.timeout;
    } else if (ec == asio::error::invalid_argument) {
      what = "bad response";
      if (c.in_window) ++stats_.counted.bad_response;
    } else if (ec == asio::error::eof && !c.got_bytes) {
      what = "closed by the server without an answer";
      if (c.in_window) ++stats_.counted.closed;
    } else {
      if (c.in_window) ++stats_.counted.reset;
    }
    if (plan_.what == phase::register_ads) {
      // A server may close an idle keep-alive connection just as a request
      // goes out; PUT is idempotent, so send it again on a new connection.
      if (ec == asio::error::eof && !c.got_bytes && ++c.closed_in_a_row < 3) {
        c.retry_ad = c.ad;
        ++retries_pending_;
        close(c);
        return start_connect(c);
      }
      return fatal(fmt::format(
          "PUT /api/v1/ads/{}: {} ({})", c.ad, what,
          ec == asio::error::invalid_argument ? std::string(c.parser.error()) : ec.message()));
    }
    close(c);
    if (!finished()) start_connect(c);
    maybe_finish();
  }

  // --- open-loop schedule ------------------------------------------------

  // Request i of this worker is due at t0 + (i * threads + index) / rate: the
  // workers' schedules interleave into one of `rate` requests per second.
  clock_type::time_point intended(std::uint64_t i) const {
    const long double seq = static_cast<long double>(i) * plan_.threads + index_;
    return plan_.t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(seq * 1e9L / plan_.rate));
  }

  void arm_release() {
    const auto due = intended(next_release_);
    if (due >= plan_.t_end) return;
    release_.expires_at(due);
    release_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      const auto now = clock_type::now();
      while (intended(next_release_) <= now && intended(next_release_) < plan_.t_end) {
        ++next_release_;
      }
      while (!idle_.empty() && next_dispatch_ < next_release_) {
        // The longest-idle connection first: every connection is used in
        // turn, so none idles past the server's timeouts at a low rate and
        // is then closed under a request.
        connection* c = idle_.front();
        idle_.pop_front();
        send_click(*c, intended(next_dispatch_++));
      }
      stats_.backlog_max = std::max(stats_.backlog_max, next_release_ - next_dispatch_);
      arm_release();
    });
  }

  // --- timeouts and the end ----------------------------------------------

  // Every few milliseconds: close connections past their deadline (their
  // handler then sees timed_out), and end the phase when it is over. One
  // sweep per worker is cheaper than a timer per request.
  void arm_sweep() {
    sweep_.expires_after(
        std::min<clock_type::duration>(std::chrono::milliseconds(20), plan_.timeout / 4));
    sweep_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      if (plan_.fatal->is_set()) return stop();
      const auto now = clock_type::now();
      for (auto& c : conns_) {
        if ((c->st == connection::state::busy || c->st == connection::state::connecting) &&
            now >= c->deadline && !c->timed_out) {
          c->timed_out = true;
          boost::system::error_code ignored;
          c->socket.close(ignored);  // the pending operation completes with operation_aborted
        }
      }
      // The drain after the end is bounded by one timeout; what is still
      // queued then was never sent.
      if (plan_.what == phase::load && now >= plan_.t_end + plan_.timeout) {
        for (std::uint64_t i = next_dispatch_; i < next_release_; ++i) {
          if (intended(i) >= plan_.t_measure) ++stats_.unsent;
        }
        for (auto& c : conns_) {
          if (c->st == connection::state::busy && c->in_window) ++stats_.abandoned;
        }
        return stop();
      }
      maybe_finish();
      if (!stopping_) arm_sweep();
    });
  }

  // No more requests will be started.
  bool finished() const {
    if (stopping_) return true;
    if (plan_.what == phase::register_ads) {
      return plan_.next_ad->load() > plan_.register_count && retries_pending_ == 0;
    }
    if (clock_type::now() < plan_.t_end) return false;
    return plan_.rate == 0 ||
           (next_dispatch_ == next_release_ && intended(next_release_) >= plan_.t_end);
  }

  void maybe_finish() {
    if (!stopping_ && busy_ == 0 && finished()) stop();
  }

  void fatal(std::string message) {
    plan_.fatal->set(std::move(message));
    stop();
  }

  // Closes everything; the io_context then runs out of work and run() returns.
  void stop() {
    if (stopping_) return;
    stopping_ = true;
    for (auto& c : conns_) {
      close(*c);
      c->backoff.cancel();
    }
    sweep_.cancel();
    release_.cancel();
  }

  const plan& plan_;
  const std::uint32_t index_;
  asio::io_context ioc_{1};
  // Everything below is touched by this worker's thread only.
  std::vector<std::unique_ptr<connection>> conns_;
  std::deque<connection*> idle_;  // open, nothing in flight, waiting for work (oldest first)
  asio::steady_timer sweep_;
  asio::steady_timer release_;  // open loop: the next due time; closed loop: t0
  std::optional<adclick::bench::click_source> source_;
  std::string request_suffix_;
  worker_stats stats_;
  std::uint64_t sends_ = 0;
  std::uint64_t busy_ = 0;             // connections with a request in flight
  std::uint64_t retries_pending_ = 0;  // registration: connections holding a retry_ad
  std::uint64_t next_release_ = 0;     // open loop: requests [0, next_release_) are due
  std::uint64_t next_dispatch_ = 0;    // open loop: requests [0, next_dispatch_) were sent
  bool started_ = false;               // closed loop: t0 has passed
  bool stopping_ = false;
};

// Runs one phase on `threads` workers and merges their figures.
worker_stats run_phase(const plan& p, std::uint32_t connections) {
  std::vector<std::unique_ptr<worker>> workers;
  for (std::uint32_t w = 0; w < p.threads; ++w) {
    const std::uint32_t share = connections / p.threads + (w < connections % p.threads ? 1 : 0);
    workers.push_back(std::make_unique<worker>(p, w, share));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads) t.join();
  worker_stats total;
  for (auto& w : workers) total.merge(w->stats());
  return total;
}

// --- the command line and the summary --------------------------------------

// The command line as run, shell-quoted, with secrets replaced.
std::string command_line(int argc, char** argv) {
  constexpr std::string_view kSecrets[] = {"--admin-token", "--key-base64"};
  constexpr char kRedacted[] = "<redacted>";
  std::string out;
  bool hide_next = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i > 0) out += ' ';
    if (hide_next) {
      out += kRedacted;
      hide_next = false;
      continue;
    }
    bool hidden = false;
    for (std::string_view secret : kSecrets) {
      if (arg == secret) hide_next = true;
      if (arg.size() > secret.size() && arg.starts_with(secret) && arg[secret.size()] == '=') {
        out += fmt::format("{}={}", secret, kRedacted);
        hidden = true;
      }
    }
    if (hidden) continue;
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_./:=,@+") == std::string_view::npos;
    if (plain) {
      out += arg;
    } else {
      out += '\'';
      for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      out += '\'';
    }
  }
  return out;
}

// A run-unique, URL-safe prefix for impression ids: time and process id in base 36.
std::string make_run_id() {
  std::uint64_t v =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
      (static_cast<std::uint64_t>(::getpid()) << 40);
  v = adclick::bench::fast_rng(v).next();
  constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  for (int i = 0; i < 10; ++i, v /= 36) s += kDigits[v % 36];
  return "lg" + s;
}

double ms(std::uint64_t micros) {
  return static_cast<double>(micros) / 1000.0;
}

void print_summary(const options& o, const std::string& cmd, const std::string& run_id,
                   std::uint64_t seed, const worker_stats& s, double window_s) {
  const auto& h = s.latency;
  const auto& c = s.counted;
  const double per_sec = window_s > 0 ? static_cast<double>(s.completed_in_window) / window_s : 0;
  std::string other_detail;
  for (std::size_t st = 0; st < c.by_status.size(); ++st) {
    if (c.by_status[st] != 0 && st != 302 && st != 404 && st != 400) {
      other_detail += fmt::format("{}{}:{}", other_detail.empty() ? "" : " ", st, c.by_status[st]);
    }
  }
  const std::string mode = o.rate > 0 ? fmt::format("open-loop {} req/s", o.rate) : "closed-loop";
  if (o.json) {
    nlohmann::ordered_json j;
    j["command"] = cmd;
    j["mode"] = o.rate > 0 ? "open-loop" : "closed-loop";
    j["target_rate"] = o.rate;
    j["target"] = fmt::format("{}:{}", o.host, o.port);
    j["connections"] = o.connections;
    j["threads"] = o.threads;
    j["duration_s"] = o.duration_s;
    j["warmup_s"] = o.warmup_s;
    j["ads"] = o.clicks.ads;
    j["zipf"] = o.clicks.zipf;
    j["dup_fraction"] = o.clicks.dup_fraction;
    j["invalid_fraction"] = o.clicks.invalid_fraction;
    j["presign"] = o.presign;
    j["seed"] = seed;
    j["run_id"] = run_id;
    j["requests_per_sec"] = per_sec;
    j["responses"] = h.count();
    j["latency_ms"] = {{"p50", ms(h.quantile(0.50))}, {"p90", ms(h.quantile(0.90))},
                       {"p99", ms(h.quantile(0.99))}, {"p999", ms(h.quantile(0.999))},
                       {"max", ms(h.max())},          {"mean", h.mean() / 1000.0}};
    nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
    for (std::size_t st = 0; st < c.by_status.size(); ++st) {
      if (c.by_status[st] != 0) statuses[std::to_string(st)] = c.by_status[st];
    }
    j["status"] = {{"302", c.by_status[302]},
                   {"404", c.by_status[404]},
                   {"400", c.by_status[400]},
                   {"other", c.status_other()},
                   {"all", statuses}};
    j["302_without_location"] = c.no_location;
    j["errors"] = {{"refused", c.refused}, {"connect_failed", c.connect_failed},
                   {"reset", c.reset},     {"closed", c.closed},
                   {"timeout", c.timeout}, {"bad_response", c.bad_response},
                   {"total", c.errors()}};
    j["sent_incl_warmup"] = {
        {"fresh", s.sent[0]}, {"duplicate", s.sent[1]}, {"invalid", s.sent[2]}};
    j["presigned_repeats"] = s.presigned_repeats;
    j["backlog_max"] = s.backlog_max;
    j["intended_in_window"] = s.sent_in_window + s.unsent;
    j["unsent"] = s.unsent;
    j["abandoned"] = s.abandoned;
    if (o.interval_s > 0) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (std::size_t i = 0; i < s.intervals.size(); ++i) {
        const auto& v = s.intervals[i];
        list.push_back({{"start_s", static_cast<double>(i) * o.interval_s},
                        {"responses", v.responses},
                        {"over_50ms", v.slower[0]},
                        {"over_250ms", v.slower[1]},
                        {"over_1s", v.slower[2]},
                        {"max_ms", ms(v.max_micros)}});
      }
      j["intervals"] = list;
    }
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("command: {}\n", cmd);
  fmt::print(
      "run: {}, {} connections, {} thread(s), {} s measured after {} s warmup, target "
      "{}:{}\n",
      mode, o.connections, o.threads, o.duration_s, o.warmup_s, o.host, o.port);
  fmt::print(
      "clicks: {} ads, zipf {}, dup fraction {}, invalid fraction {}, ttl {} s, {}, "
      "seed {}, run id {}\n",
      o.clicks.ads, o.clicks.zipf, o.clicks.dup_fraction, o.clicks.invalid_fraction, o.clicks.ttl_s,
      o.presign > 0 ? fmt::format("{} presigned", o.presign) : "signed while sending", seed,
      run_id);
  fmt::print("requests/s: {:.1f}\n", per_sec);
  fmt::print("requests intended in window: {}\n", s.sent_in_window + s.unsent);
  if (o.rate > 0) fmt::print("requests never sent: {}\n", s.unsent);
  fmt::print("responses measured: {}\n", h.count());
  fmt::print("latency p50 ms: {:.3f}\n", ms(h.quantile(0.50)));
  fmt::print("latency p90 ms: {:.3f}\n", ms(h.quantile(0.90)));
  fmt::print("latency p99 ms: {:.3f}\n", ms(h.quantile(0.99)));
  fmt::print("latency p999 ms: {:.3f}\n", ms(h.quantile(0.999)));
  fmt::print("latency max ms: {:.3f}\n", ms(h.max()));
  fmt::print("latency mean ms: {:.3f}\n", h.mean() / 1000.0);
  fmt::print("status 302: {}\n", c.by_status[302]);
  fmt::print("status 404: {}\n", c.by_status[404]);
  fmt::print("status 400: {}\n", c.by_status[400]);
  fmt::print("status other: {}{}\n", c.status_other(),
             other_detail.empty() ? "" : fmt::format(" ({})", other_detail));
  fmt::print("302 without Location: {}\n", c.no_location);
  fmt::print("errors connect refused (attempts): {}\n", c.refused);
  fmt::print("errors connect failed (attempts): {}\n", c.connect_failed);
  fmt::print("errors reset: {}\n", c.reset);
  fmt::print("errors closed: {}\n", c.closed);
  fmt::print("errors timeout: {}\n", c.timeout);
  fmt::print("errors bad response: {}\n", c.bad_response);
  fmt::print("sent incl. warmup: {} fresh, {} duplicate, {} invalid\n", s.sent[0], s.sent[1],
             s.sent[2]);
  if (o.presign > 0) fmt::print("presigned repeats: {}\n", s.presigned_repeats);
  if (o.rate > 0) {
    fmt::print("backlog max: {}\n", s.backlog_max);
  }
  fmt::print("abandoned in flight at end: {}\n", s.abandoned);
  for (std::size_t i = 0; i < s.intervals.size(); ++i) {
    const auto& v = s.intervals[i];
    fmt::print("interval {:.0f} s: {} responses, over 50 ms {}, over 250 ms {}, over 1 s {}, max {:.1f} ms\n",
               static_cast<double>(i) * o.interval_s, v.responses, v.slower[0], v.slower[1],
               v.slower[2], ms(v.max_micros));
  }
  if (s.unsent + s.abandoned > 0) {
    fmt::print(
        "note: the server did not keep up: {} requests of the window were never sent and "
        "{} never answered; the latency figures cover answered requests only\n",
        s.unsent, s.abandoned);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP/1.1 load generator for adclick's /click path"};
  options o;
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->capture_default_str();
  app.add_option("--connections", o.connections, "keep-alive connections")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (each owns a share of the connections)")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--rate", o.rate,
                 "requests/s over all connections, open loop with latency from the intended "
                 "send time; 0: closed loop")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "measured seconds (0 with --register: register only)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "seconds sent before the measured ones, not counted")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds to wait for a connect or a response")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--key-id", o.key_id, "signing key id")->capture_default_str();
  app.add_option("--key-base64", o.key_base64,
                 "signing key: standard base64 of the raw bytes (default: the demo key k1)");
  app.add_option("--ttl", o.clicks.ttl_s, "signature expiry, seconds from now")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--ads", o.clicks.ads, "ad ids 1..N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--zipf", o.clicks.zipf, "Zipf exponent of ad popularity (0: uniform)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--dup-fraction", o.clicks.dup_fraction,
                 "fraction of requests that re-send an earlier click's exact URL")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--invalid-fraction", o.clicks.invalid_fraction,
                 "fraction of requests with a corrupted MAC")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--presign", o.presign,
                 "sign N clicks before the run and cycle through them (repeats beyond N are "
                 "duplicates); 0: sign each click as it is sent")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "random seed for ads and outcomes (0: from the clock)")
      ->capture_default_str();
  app.add_flag("--register", o.do_register,
               "first register ads 1..N with PUT /api/v1/ads/{id} (needs --admin-token)");
  app.add_option("--admin-token", o.admin_token, "admin bearer token for --register");
  app.add_option("--advertiser", o.advertiser, "advertiserId of the registered ads")
      ->capture_default_str();
  app.add_flag("--json", o.json, "print the summary as one JSON object");
  app.add_option("--interval", o.interval_s,
                 "seconds: also count the slow responses (over 50 ms, 250 ms, 1 s) per interval "
                 "of intended send time (0: off)")
      ->check(CLI::NonNegativeNumber);
  auto* emit = app.add_option("--emit-urls", o.emit_urls,
                              "write N signed click paths to --out (for wrk) instead of running");
  app.add_option("--out", o.out, "file for --emit-urls")->needs(emit);
  CLI11_PARSE(app, argc, argv);

  auto die = [](const std::string& message) {
    fmt::print(stderr, "loadgen: {}\n", message);
    std::exit(1);
  };
  if (o.clicks.dup_fraction + o.clicks.invalid_fraction > 1.0) {
    die("--dup-fraction plus --invalid-fraction must not exceed 1");
  }
  if (o.emit_urls > 0 && o.out.empty()) die("--emit-urls needs --out FILE");
  if (o.interval_s > 0 && o.interval_s < 0.1) die("--interval must be 0 (off) or at least 0.1 s");
  if (o.do_register && o.admin_token.empty()) die("--register needs --admin-token");
  if (o.duration_s == 0 && !o.do_register && o.emit_urls == 0) {
    die("--duration 0 only makes sense with --register");
  }
  const auto raw_key = adclick::bench::decode_base64(o.key_base64);
  if (!raw_key || raw_key->empty()) die("--key-base64 is not standard base64 of a key");
  adclick::ingest::parsed_signature probe;
  if (!adclick::ingest::parse_signature(fmt::format("v1.{}.1.{}", o.key_id, std::string(43, 'A')),
                                        probe)) {
    die("--key-id must be 1-32 characters of [A-Za-z0-9_-]");
  }
  o.threads = std::min(o.threads, o.connections);

  const std::string cmd = command_line(argc, argv);
  const std::uint64_t seed = o.seed != 0 ? o.seed : std::random_device{}() | 1;
  const std::string run_id = make_run_id();
  const adclick::ingest::signer signer({{o.key_id, *raw_key}}, o.key_id, o.clicks.ttl_s);
  const adclick::bench::zipf_ads ads(o.clicks.ads, o.clicks.zipf);

  if (o.emit_urls > 0) {
    std::ofstream out(o.out, std::ios::trunc);
    if (!out) die(fmt::format("cannot write {}", o.out));
    adclick::bench::click_source source(signer, ads, o.clicks, run_id, 0, seed);
    std::uint64_t kinds[3] = {0, 0, 0};
    for (std::uint64_t i = 0; i < o.emit_urls; ++i) {
      click_kind kind;
      out << source.next(kind) << '\n';
      ++kinds[static_cast<int>(kind)];
    }
    out.close();
    if (!out) die(fmt::format("cannot write {}", o.out));
    fmt::print("command: {}\n", cmd);
    fmt::print(
        "wrote {} click paths to {} ({} fresh, {} duplicate, {} invalid; ttl {} s, run id "
        "{})\n",
        o.emit_urls, o.out, kinds[0], kinds[1], kinds[2], o.clicks.ttl_s, run_id);
    return 0;
  }

  plan p;
  p.threads = o.threads;
  p.timeout =
      std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.timeout_s));
  p.host_header = o.host.find(':') == std::string::npos ? fmt::format("{}:{}", o.host, o.port)
                                                        : fmt::format("[{}]:{}", o.host, o.port);
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) die(fmt::format("cannot resolve {}: {}", o.host, ec.message()));
    p.endpoint = results.begin()->endpoint();
  }

  if (o.do_register) {
    fatal_error fatal;
    std::atomic<std::uint64_t> next_ad{1};
    plan r = p;
    r.what = phase::register_ads;
    r.register_count = o.clicks.ads;
    r.admin_token = o.admin_token;
    r.advertiser = o.advertiser;
    r.next_ad = &next_ad;
    r.fatal = &fatal;
    r.t_measure = clock_type::time_point::min();
    r.t_end = clock_type::time_point::max();
    const auto t = clock_type::now();
    const auto s = run_phase(r, o.connections);
    const double secs = std::chrono::duration<double>(clock_type::now() - t).count();
    if (auto message = fatal.message()) die("registration failed: " + *message);
    if (s.registered != o.clicks.ads) {
      die(fmt::format("registration stopped after {} of {} ads", s.registered, o.clicks.ads));
    }
    fmt::print(stderr, "loadgen: registered ads 1..{} in {:.2f} s ({:.0f}/s)\n", o.clicks.ads, secs,
               static_cast<double>(o.clicks.ads) / secs);
    if (o.duration_s == 0) return 0;
  }

  std::vector<presigned_click> presigned;
  if (o.presign > 0) {
    adclick::bench::click_source source(signer, ads, o.clicks, run_id, 0, seed);
    presigned.reserve(o.presign);
    for (std::uint64_t i = 0; i < o.presign; ++i) {
      presigned_click c;
      c.path = source.next(c.kind);
      presigned.push_back(std::move(c));
    }
  }
  fatal_error fatal;
  p.what = phase::load;
  p.rate = o.rate;
  p.signer = &signer;
  p.ads = &ads;
  p.clicks = o.clicks;
  p.run_id = run_id;
  p.seed = seed;
  p.presigned = &presigned;
  p.fatal = &fatal;
  p.t0 = clock_type::now() + kStartDelay;
  p.t_measure = p.t0 + std::chrono::duration_cast<clock_type::duration>(
                           std::chrono::duration<double>(o.warmup_s));
  p.t_end = p.t_measure + std::chrono::duration_cast<clock_type::duration>(
                              std::chrono::duration<double>(o.duration_s));
  p.interval = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(o.interval_s));
  const auto stats = run_phase(p, o.connections);
  if (auto message = fatal.message()) die(*message);
  print_summary(o, cmd, run_id, seed, stats, o.duration_s);
  return 0;
}
