#pragma once
// The API as the server wires it, without a socket: a real RocksDB store and
// a real segmented log in the scratch directory, the click path's front end
// with three ads, and the router
// with every route. The reconciler is built but not started (a POST parses
// and validates its body, then answers 503); no aggregator or live feed
// (their routes answer 503). Handlers that touch disk run inline.
//
// call() hands one request to the router and waits for its answer: the click
// route answers from the log's flusher thread.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/api.h"
#include "fuzz_support.h"
#include "http/message.h"
#include "http/router.h"
#include "ingest/front_end.h"
#include "log/segmented_log.h"
#include "query/query_service.h"
#include "recon/reconciler.h"
#include "state/store.h"

namespace adclick::fuzz {

inline constexpr const char* kAdminToken = "fuzz-admin-token-0123456789";
inline constexpr const char* kAdvertiserKey = "fuzz-adv-1-key-0123456789";

class api_app {
 public:
  api_app() {
    std::string error_line;
    auto st = state::store::open(scratch_dir() + "/state", error_line);
    require(bool(st), "store opens");
    store_ = std::move(*st);
    log::log_options lo;
    lo.dir = scratch_dir() + "/log";
    lo.partitions = 2;
    lo.mode = log::durability::os;
    lo.preallocate = 0;
    log::recovery_report rep;
    auto lg = log::segmented_log::open(lo, rep, error_line);
    require(bool(lg), "log opens");
    log_ = std::move(*lg);
    log_->start();
    ingest::front_end_options fo;
    fo.signing_keys = {{"k1", "0123456789abcdef0123456789abcdef"}};
    fo.current_key = "k1";
    fo.hot_ad_rate = 1000;
    fo.hot_fanout = 2;
    front_ = std::make_unique<ingest::front_end>(*store_, *log_, fo);
    require(!front_->load(), "ads load");
    for (std::uint64_t id : {1, 2, 3}) {
      bool created = false;
      std::string why;
      require(bool(front_->ads().put(id, id == 2 ? "adv-2" : "adv-1",
                                     "https://example.com/landing?ad=" + std::to_string(id), created, why)),
              "demo ad");
    }
    queries_ = std::make_unique<query::query_service>(*store_, query::query_options{});
    recon_ = std::make_unique<recon::reconciler>(*log_, *store_, recon::reconciler_options{});
    ctx_.reconciler = recon_.get();
    ctx_.clicks = &front_->clicks();
    ctx_.ads = &front_->ads();
    ctx_.partitioner = &front_->partitions();
    ctx_.signer = &front_->signatures();
    ctx_.query = queries_.get();
    ctx_.tokens = &tokens_;
    ctx_.public_base_url = "http://127.0.0.1:8080";
    api::add_routes(routes_, ctx_);
  }

  // Routes `r` (path and query filled from its target) and returns the
  // response after checking what the connection would check.
  http::response call(http::request r) {
    http::split_target(r);
    struct slot {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<http::response> answer;
      int calls = 0;
      bool dropped = false;
    };
    auto s = std::make_shared<slot>();
    {
      // The responder's last copy going away unanswered is a bug the
      // connection would turn into a 500; here it stops the run.
      auto guard = std::shared_ptr<void>(nullptr, [s](void*) {
        std::lock_guard lock(s->mu);
        s->dropped = true;
        s->cv.notify_all();
      });
      http::responder respond = [s, guard](http::response resp) {
        std::lock_guard lock(s->mu);
        ++s->calls;
        if (!s->answer) s->answer = std::move(resp);
        s->cv.notify_all();
      };
      const auto m = routes_.match(r.method, r.path);
      if (m.target == nullptr) {
        http::response resp;
        resp.status = m.allow.empty() ? 404 : 405;
        return resp;
      }
      (*m.target)(r, std::move(respond));
    }
    std::unique_lock lock(s->mu);
    require(s->cv.wait_for(lock, std::chrono::seconds(10), [&] { return s->dropped; }),
            "the handler answers within 10 s");
    require(s->answer.has_value(), "the handler answered before dropping its responder");
    require(s->calls == 1, "the handler answered exactly once");
    const http::response& resp = *s->answer;
    require(resp.status >= 200 && resp.status <= 599, "status in 200..599");
    for (const auto& [name, value] : resp.headers) {
      require(http::header_problem(name, value) == nullptr, "response headers are valid");
    }
    return resp;
  }

 private:
  std::unique_ptr<state::store> store_;
  std::unique_ptr<log::segmented_log> log_;
  std::unique_ptr<ingest::front_end> front_;
  std::unique_ptr<query::query_service> queries_;
  std::unique_ptr<recon::reconciler> recon_;
  base::published<api::credentials> tokens_{
      api::credentials{kAdminToken, {{"adv-1", kAdvertiserKey}}}};
  api::api_context ctx_;
  http::router routes_;
};

// One per process, never destroyed: libFuzzer exits without unwinding, and
// the log's threads must not outlive what they use.
inline api_app& app() {
  static api_app* a = new api_app();
  return *a;
}

}  // namespace adclick::fuzz
