#pragma once
// Records and read-back helpers shared by the log tests.

#include <string>
#include <utility>
#include <vector>

#include "adclick/click_log.h"

namespace adclick::log::test {

// A click whose every field depends on i (so a mix-up shows).
inline click_record make_click(std::uint64_t i, std::int64_t event_time_ms = 1'800'000'000'000) {
  click_record r;
  r.event_time_ms = event_time_ms + static_cast<std::int64_t>(i);
  r.ad_id = 1 + i % 1000;
  r.expires_at_s = 1'800'003'600 + static_cast<std::int64_t>(i % 7);
  r.key_id = "k" + std::to_string(i % 3);
  r.impression_id = "imp-" + std::to_string(i);
  if (i % 2 == 0) {
    r.client.family = 4;
    r.client.bytes = {127, 0, 0, static_cast<std::uint8_t>(i % 250)};
  } else {
    r.client.family = 6;
    r.client.bytes[15] = static_cast<std::uint8_t>(i % 250);
  }
  r.user_agent = std::string(i % 40, 'u');
  return r;
}

inline std::vector<std::pair<offset_t, click_record>> read_all(click_log& log, partition_id p,
                                                               offset_t from = 0,
                                                               std::vector<corruption>* bad = nullptr) {
  std::vector<std::pair<offset_t, click_record>> out;
  auto reader = log.open_reader(p, from);
  for (;;) {
    auto n = reader->read(1000, [&](offset_t o, const click_view& v) {
      out.emplace_back(o, v.to_record());
    }, bad);
    if (!n || *n == 0) break;
  }
  return out;
}

}  // namespace adclick::log::test
