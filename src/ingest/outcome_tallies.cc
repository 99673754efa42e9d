#include "ingest/outcome_tallies.h"

#include "base/floor_div.h"
#include "base/mutex.h"
#include "state/store.h"

namespace adclick::ingest {

void outcome_tallies::add(std::uint64_t ad_id, std::int64_t event_time_ms, state::tally_kind kind) {
  const std::int64_t minute = base::floor_div(event_time_ms, 60000);
  auto& s = stripes_[ad_id % kStripes];
  base::mutex_lock lk(s.mu);
  ++s.rows[{ad_id, minute, kind}];
}

outcome_tallies::rows outcome_tallies::take() {
  rows all;
  for (auto& s : stripes_) {
    base::mutex_lock lk(s.mu);
    for (auto& [k, v] : s.rows) all[k] += v;
    s.rows.clear();
  }
  return all;
}

void outcome_tallies::put_back(const rows& r) {
  for (const auto& [k, v] : r) {
    auto& s = stripes_[std::get<0>(k) % kStripes];
    base::mutex_lock lk(s.mu);
    s.rows[k] += v;
  }
}

std::error_code outcome_tallies::flush(state::store& store) {
  const rows all = take();
  if (all.empty()) return {};
  state::write_batch b;
  for (const auto& [k, v] : all) b.add_count(std::get<0>(k), std::get<1>(k), std::get<2>(k), v);
  if (auto ec = store.write(b, false)) {
    put_back(all);  // for the next try
    return ec;
  }
  return {};
}

std::size_t outcome_tallies::pending_rows() const {
  std::size_t n = 0;
  for (const auto& s : stripes_) {
    base::mutex_lock lk(s.mu);
    n += s.rows.size();
  }
  return n;
}

}  // namespace adclick::ingest
