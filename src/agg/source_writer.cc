#include "agg/source_writer.h"

#include <algorithm>

#include "state/store.h"

namespace adclick::agg {

std::error_code write_source(state::store& store, partials_lock& lock, partial_sink& sink, const std::string& source,
                             std::uint64_t version, const std::vector<source_cell>& cells, cell_rule rule) {
  if (cells.empty()) return {};
  base::mutex_lock lk(lock.mu);
  std::vector<source_partial> out;
  std::vector<std::uint64_t> totals;
  out.reserve(cells.size());
  totals.reserve(cells.size());
  for (const auto& c : cells) {
    auto old = store.get_partial(c.ad_id, c.minute, c.kind, source);
    if (!old) return old.error();
    auto sum = store.sum_partials(c.ad_id, c.minute, c.kind);
    if (!sum) return sum.error();
    const std::uint64_t before = old->has_value() ? (*old)->value : 0;
    const std::uint64_t others = *sum - before;  // modulo 2^64, as the sum is
    const std::uint64_t value = rule == cell_rule::add ? before + c.arg : c.arg - others;
    out.push_back({source, c.ad_id, c.minute, c.kind, value, version});
    totals.push_back(others + value);
  }
  if (auto ec = sink.publish(out)) return ec;
  state::write_batch b;
  std::vector<std::pair<std::int64_t, std::uint64_t>> active;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& p = out[i];
    b.put_partial(p.ad_id, p.minute, p.kind, source, {p.value, p.version});
    b.set_count(p.ad_id, p.minute, p.kind, totals[i]);
    if (p.kind == state::tally_kind::clicks) active.emplace_back(state::row_hour(p.minute), p.ad_id);
  }
  std::sort(active.begin(), active.end());
  active.erase(std::unique(active.begin(), active.end()), active.end());
  for (const auto& [hour, ad] : active) b.put_active(hour, ad);
  return store.write(b, true);
}

}  // namespace adclick::agg
