// The live feed's subscriber cap, in-process: a stream whose writes can be
// held, so that an update round is under way while others subscribe.

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/live_feed.h"
#include "query/query_service.h"
#include "state/store.h"
#include "testutil/hold_point.h"
#include "testutil/temp_dir.h"

using namespace adclick;

namespace {

// An event stream that keeps what is written; its first write can be held
// until the test lets it go.
class held_stream final : public http::event_stream {
 public:
  bool write(std::string bytes) override {
    point.pass();
    std::lock_guard lk(mu_);
    if (closed_) return false;
    written_ += bytes;
    ++writes_;
    cv_.notify_all();
    return true;
  }
  void close() override {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool closed() const override {
    std::lock_guard lk(mu_);
    return closed_;
  }
  void hold() { point.hold(); }
  void wait_held() { point.wait_held(); }
  void release() { point.release(); }
  bool wait_writes(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return writes_ >= n; });
  }

 private:
  testutil::hold_point point;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string written_;
  int writes_ = 0;
  bool closed_ = false;
};

}  // namespace

TEST_CASE("live feed: the subscriber cap holds during an update round", "[api]") {
  // Regression: the cap was checked before the subscriber was added, and
  // while an update round had taken the subscribers out it read as empty.
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  query::query_service queries(**store, query::query_options{100000, 1, 60000});
  api::live_feed feed(queries, std::chrono::seconds(15), 2);
  feed.start();
  auto a = std::make_shared<held_stream>();
  auto b = std::make_shared<held_stream>();
  a->hold();
  feed.subscribe(1, 5, a);
  feed.subscribe(2, 5, b);
  a->wait_held();  // an update round is under way, both subscribers taken out
  CHECK_FALSE(feed.has_room());
  auto c = std::make_shared<held_stream>();
  feed.subscribe(3, 5, c);  // over the cap: closed at once
  CHECK(c->closed());
  a->release();
  CHECK(b->wait_writes(1, std::chrono::seconds(2)));
  CHECK(feed.subscribers() == 2);
  CHECK_FALSE(a->closed());
  CHECK_FALSE(b->closed());

  SECTION("a subscriber whose access is withdrawn is closed before the next update") {
    bool allowed = true;
    std::mutex mu;
    b->close();  // make room
    auto d = std::make_shared<held_stream>();
    for (int i = 0; i < 100 && feed.subscribers() > 1; ++i) {
      feed.notify();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    feed.subscribe(4, 5, d, [&] {
      std::lock_guard lk(mu);
      return allowed;
    });
    CHECK(d->wait_writes(1, std::chrono::seconds(2)));
    {
      std::lock_guard lk(mu);
      allowed = false;
    }
    feed.notify();
    for (int i = 0; i < 200 && !d->closed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(d->closed());
  }
  feed.stop();
}
