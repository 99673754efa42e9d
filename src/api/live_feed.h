#pragma once
// GET /api/v1/ads/{adId}/live: Server-Sent Events with an ad's recent
// minute buckets, pushed after each aggregation flush (not polled).
//
// Each subscriber gets, at once and then whenever a flush changed them, an
// event `buckets` whose data is the aggregates answer (the same JSON as
// GET .../aggregates) for its last `minutes` minutes, the current one
// included. A comment line goes out every keep-alive interval so that
// proxies keep the stream open and a client that went away is noticed.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "http/response.h"

namespace adclick::query {
class query_service;
}

namespace adclick::api {

class live_feed {
 public:
  static constexpr std::size_t kMaxSubscribers = 1000;

  // Whether the subscriber may still see its ad (its advertiser still owns
  // it); asked before every update. Any thread.
  using access_check = std::function<bool()>;

  live_feed(query::query_service& queries, std::chrono::milliseconds keepalive = std::chrono::seconds(15),
            std::size_t max_subscribers = kMaxSubscribers);
  ~live_feed();  // stop()
  live_feed(const live_feed&) = delete;
  live_feed& operator=(const live_feed&) = delete;

  void start();
  // Closes every stream and joins. Idempotent.
  void stop();

  // False when max_subscribers are already subscribed (those in an update
  // round included). A hint for a 503 before the stream opens; subscribe()
  // enforces the cap. Any thread.
  bool has_room() const;
  // Adds a subscriber and sends its first event soon; closes the stream at
  // once when the feed is full or stopping. A stream whose `allowed` check
  // fails is closed before anything more is sent on it. Any thread.
  void subscribe(std::uint64_t ad_id, std::int64_t minutes, std::shared_ptr<http::event_stream> stream,
                 access_check allowed = {});
  // The speed layer committed: cheap, any thread (the shards call it).
  void notify();

  std::size_t subscribers() const;

 private:
  struct subscriber {
    std::uint64_t ad_id;
    std::int64_t minutes;
    std::shared_ptr<http::event_stream> stream;
    std::string last_sent;  // the last data sent, to skip unchanged updates
    access_check allowed;   // empty: always
  };
  void run();
  // Sends each subscriber its buckets if they changed; drops closed ones.
  void push_updates(std::vector<subscriber>& subs);

  query::query_service& queries_;
  const std::chrono::milliseconds keepalive_;
  const std::size_t max_subscribers_;

  mutable base::mutex mu_;
  std::condition_variable cv_;
  std::vector<subscriber> subs_ GUARDED_BY(mu_);
  std::size_t in_round_ GUARDED_BY(mu_) = 0;      // subscribers taken out for an update round
  bool dirty_ GUARDED_BY(mu_) = false;            // a flush happened, or a new subscriber
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace adclick::api
