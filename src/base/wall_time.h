#pragma once
// The wall clock as Unix time. It can step (NTP, an operator): event times
// come from base::event_clock instead; this is for ages, expiries and the
// times written into reports. Any thread.

#include <chrono>
#include <cstdint>

namespace adclick::base {

inline std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t wall_now_s() { return wall_now_ms() / 1000; }

}  // namespace adclick::base
