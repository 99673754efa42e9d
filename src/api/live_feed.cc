#include "api/live_feed.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "base/mutex.h"
#include "base/wall_time.h"
#include "query/query_service.h"

namespace adclick::api {
namespace {

// Shard commits of one flush arrive close together: one update for all.
constexpr std::chrono::milliseconds kCoalesce{20};


}  // namespace

live_feed::live_feed(query::query_service& queries, std::chrono::milliseconds keepalive,
                     std::size_t max_subscribers)
    : queries_(queries), keepalive_(keepalive), max_subscribers_(max_subscribers) {}

live_feed::~live_feed() { stop(); }

void live_feed::start() {
  base::mutex_lock lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void live_feed::stop() {
  {
    base::mutex_lock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  base::mutex_lock lock(mu_);
  for (auto& s : subs_) s.stream->close();
  subs_.clear();
}

bool live_feed::has_room() const {
  base::mutex_lock lock(mu_);
  return subs_.size() + in_round_ < max_subscribers_;
}

void live_feed::subscribe(std::uint64_t ad_id, std::int64_t minutes, std::shared_ptr<http::event_stream> stream,
                          access_check allowed) {
  {
    base::mutex_lock lock(mu_);
    if (stopping_ || subs_.size() + in_round_ >= max_subscribers_) {
      // Full since has_room() said yes: the client's EventSource retries.
      stream->close();
      return;
    }
    subs_.push_back(subscriber{ad_id, minutes, std::move(stream), {}, std::move(allowed)});
    dirty_ = true;
  }
  cv_.notify_all();
}

void live_feed::notify() {
  {
    base::mutex_lock lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

std::size_t live_feed::subscribers() const {
  base::mutex_lock lock(mu_);
  return subs_.size() + in_round_;  // those taken out for an update round are subscribed too
}

void live_feed::push_updates(std::vector<subscriber>& subs) {
  const std::int64_t now = base::wall_now_s();
  const std::int64_t to = (now / 60 + 1) * 60;  // through the end of the current minute
  for (auto& s : subs) {
    if (s.allowed && !s.allowed()) {
      // The ad moved to another advertiser (or is gone): nothing more of it
      // goes to this one.
      s.stream->close();
      continue;
    }
    auto series = queries_.ad_series(s.ad_id, to - s.minutes * 60, to, query::granularity::minute);
    if (!series) {
      spdlog::warn("live: ad {}: {}", s.ad_id, series.error().message());
      continue;
    }
    std::string data = query::to_json(*series);
    if (data == s.last_sent) continue;
    if (!s.stream->write("event: buckets\ndata: " + data + "\n\n")) continue;  // closed: dropped below
    s.last_sent = std::move(data);
  }
}

void live_feed::run() {
  auto next_keepalive = std::chrono::steady_clock::now() + keepalive_;
  for (;;) {
    std::vector<subscriber> work;
    bool keepalive = false;
    {
      base::mutex_lock lock(mu_);
      while (!stopping_ && !dirty_ && lock.wait_until(cv_, next_keepalive)) {
      }
      if (stopping_) return;
      keepalive = std::chrono::steady_clock::now() >= next_keepalive;
      if (!dirty_ && !keepalive) continue;
    }
    std::this_thread::sleep_for(kCoalesce);
    {
      base::mutex_lock lock(mu_);
      dirty_ = false;
      work.swap(subs_);
      in_round_ = work.size();
    }
    push_updates(work);
    if (keepalive) {
      for (auto& s : work) (void)s.stream->write(": keep-alive\n\n");
      next_keepalive = std::chrono::steady_clock::now() + keepalive_;
    }
    base::mutex_lock lock(mu_);
    // Subscribers that came meanwhile are in subs_ (and dirty_ is set).
    in_round_ = 0;
    for (auto& s : work) {
      if (!s.stream->closed()) subs_.push_back(std::move(s));
    }
  }
}

}  // namespace adclick::api
