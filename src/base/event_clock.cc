#include "base/event_clock.h"

#include <algorithm>
#include <chrono>

#include "base/mutex.h"
#include "base/wall_time.h"

namespace adclick::base {
namespace {

std::int64_t system_steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

event_clock::event_clock(source wall, source steady)
    : wall_(wall ? std::move(wall) : source(wall_now_ms)),
      steady_(steady ? std::move(steady) : source(system_steady_ms)) {}

std::int64_t event_clock::now_ms() {
  const std::int64_t wall = wall_();
  const std::int64_t steady = steady_();
  base::mutex_lock lock(mu_);
  if (!started_) {
    started_ = true;
    last_ = wall;
    last_steady_ = steady;
    return last_;
  }
  const std::int64_t elapsed = std::max<std::int64_t>(0, steady - last_steady_);
  last_steady_ = steady;
  if (wall >= last_ + elapsed) {
    // Normal running, or a forward step: follow the wall clock.
    carry_ = 0;
    last_ = wall;
    return last_;
  }
  // Behind where the monotonic clock says we are: the wall clock stepped
  // back (or ticks slightly slower). Advance at half rate, never back.
  const std::int64_t half = (elapsed + carry_) / 2;
  carry_ = (elapsed + carry_) % 2;
  last_ = std::max(wall, last_ + half);
  return last_;
}

event_clock& event_time() {
  static event_clock clock;
  return clock;
}

std::int64_t event_now_ms() { return event_time().now_ms(); }

}  // namespace adclick::base
