#pragma once
// Where click event times come from: the wall clock (Unix ms), made safe
// against steps.
//
// Event time decides a click's minute, the shards' watermarks and so which
// windows are final, so it must not run backwards. The wall clock can: NTP
// or an operator may step it. The rule, per reading:
//   - it follows the wall clock whenever that is at or ahead of where the
//     event clock would be by the monotonic clock alone (normal running,
//     and forward steps, which are taken at once);
//   - after a backward step it never goes back: it runs at half the
//     monotonic rate until the wall clock catches up, so a step of D
//     seconds back is absorbed in 2·D seconds, and every click is still
//     stamped at or after the clicks before it.
// What that means for counting (README, "Clock steps"): a forward step
// moves the watermark forward with it, so windows of the skipped minutes
// close at once and records still in flight for them are tallied late (the
// batch layer counts them); a backward step stretches the minutes around
// it (clicks land in the minute the event clock says) and never reopens a
// final window.
//
// Thread safety: now_ms() from any thread.

#include <cstdint>
#include <functional>
#include <mutex>

#include "base/mutex.h"

namespace adclick::base {

class event_clock {
 public:
  using source = std::function<std::int64_t()>;
  // wall: Unix ms; steady: any monotonic ms. Defaults: the system clocks.
  event_clock(source wall = {}, source steady = {});

  std::int64_t now_ms();

 private:
  source wall_;
  source steady_;
  base::mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  std::int64_t last_ GUARDED_BY(mu_) = 0;     // the last time returned
  std::int64_t last_steady_ GUARDED_BY(mu_) = 0;
  std::int64_t carry_ GUARDED_BY(mu_) = 0;    // half-rate remainder (ms)
};

// The process's event clock (the system clocks).
event_clock& event_time();
// Shorthand for event_time().now_ms().
std::int64_t event_now_ms();

}  // namespace adclick::base
