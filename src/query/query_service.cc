#include "query/query_service.h"

#include <fmt/format.h>
#include <iterator>

#include <algorithm>
#include <charconv>
#include <climits>
#include <ctime>

#include "base/error_category.h"
#include "base/floor_div.h"
#include "base/rfc3339.h"
#include "state/store.h"

namespace adclick::query {
namespace {

const char* describe(query_errc e) noexcept {
  switch (e) {
    case query_errc::bad_range: return "from must be before to";
    case query_errc::too_many_points: return "too many buckets";
  }
  return nullptr;
}

}  // namespace

const std::error_category& query_category() noexcept {
  static const base::errc_category<query_errc> c("adclick.query", describe);
  return c;
}

std::string_view to_string(granularity g) {
  switch (g) {
    case granularity::minute: return "minute";
    case granularity::hour: return "hour";
    case granularity::day: return "day";
  }
  return "?";
}

std::optional<granularity> parse_granularity(std::string_view s) {
  if (s == "minute") return granularity::minute;
  if (s == "hour") return granularity::hour;
  if (s == "day") return granularity::day;
  return std::nullopt;
}

std::int64_t bucket_seconds(granularity g) {
  switch (g) {
    case granularity::minute: return 60;
    case granularity::hour: return 3600;
    case granularity::day: return 86400;
  }
  return 60;
}

std::string_view to_string(point_state s) {
  switch (s) {
    case point_state::provisional: return "provisional";
    case point_state::final_: return "final";
    case point_state::reconciled: return "reconciled";
  }
  return "?";
}

query_service::query_service(state::store& store, query_options options)
    : store_(store), options_(options) {}

std::optional<std::int64_t> query_service::final_through_s() const {
  auto ms = state::committed_final_through_ms(store_, options_.shards, options_.allowed_lateness_ms,
                                              options_.watermark_partitions);
  if (!ms || !ms->has_value()) return std::nullopt;
  return **ms / 1000;
}

std::optional<std::int64_t> query_service::reconciled_through_s() const {
  auto ms = store_.get_reconciled_through();
  if (!ms || !ms->has_value()) return std::nullopt;
  return base::floor_div(**ms, 60000) * 60;
}

result<series> query_service::ad_series(std::uint64_t ad_id, std::int64_t from_s, std::int64_t to_s,
                                        granularity g) const {
  if (from_s >= to_s) return query_errc::bad_range;
  const std::int64_t width = bucket_seconds(g);
  const std::int64_t first = base::floor_div(from_s, width) * width;
  const std::int64_t n = base::floor_div(to_s - 1 - first, width) + 1;
  if (n <= 0 || static_cast<std::uint64_t>(n) > options_.max_points) return query_errc::too_many_points;
  series out;
  out.ad_id = ad_id;
  out.gran = g;
  out.from_s = from_s;
  out.to_s = to_s;
  out.points.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out.points[static_cast<std::size_t>(i)].start_s = first + i * width;
  // Minute rows from the minute holding `from` to the last one starting before `to`.
  const std::int64_t from_min = base::floor_div(from_s, 60);
  const std::int64_t to_min = base::floor_div(to_s - 1, 60) + 1;
  auto ec = store_.scan_counts(ad_id, from_min, to_min,
                               [&](std::int64_t minute, state::tally_kind kind, std::uint64_t v) {
                                 const std::int64_t at = minute * 60;
                                 const auto idx = static_cast<std::size_t>(base::floor_div(at - first, width));
                                 switch (kind) {
                                   case state::tally_kind::clicks:
                                     out.points[idx].clicks += v;
                                     out.total += v;
                                     break;
                                   case state::tally_kind::duplicate: out.invalid.duplicate += v; break;
                                   case state::tally_kind::bad_signature: out.invalid.bad_signature += v; break;
                                   case state::tally_kind::expired: out.invalid.expired += v; break;
                                   case state::tally_kind::late: out.invalid.late += v; break;
                                   case state::tally_kind::unrecorded: out.invalid.unrecorded += v; break;
                                 }
                               });
  if (ec) return ec;
  out.final_through_s = final_through_s();
  out.reconciled_through_s = reconciled_through_s();
  for (auto& p : out.points) {
    const std::int64_t end = p.start_s + width;
    if (out.reconciled_through_s && end <= *out.reconciled_through_s) {
      p.state = point_state::reconciled;
    } else if (out.final_through_s && end <= *out.final_through_s) {
      p.state = point_state::final_;
    }
  }
  return out;
}

result<std::uint64_t> query_service::ad_total(std::uint64_t ad_id, std::int64_t from_s,
                                              std::int64_t to_s) const {
  if (from_s >= to_s) return query_errc::bad_range;
  std::uint64_t total = 0;
  auto ec = store_.scan_counts(ad_id, base::floor_div(from_s, 60), base::floor_div(to_s - 1, 60) + 1,
                               [&](std::int64_t, state::tally_kind kind, std::uint64_t v) {
                                 if (kind == state::tally_kind::clicks) total += v;
                               });
  if (ec) return ec;
  return total;
}

result<ranking_page> query_service::advertiser_ranking(std::string_view advertiser_id, std::int64_t from_s,
                                                      std::int64_t to_s, const std::optional<ranking_cursor>& after,
                                                      std::size_t limit) const {
  constexpr std::size_t kAdsPerScan = 1000;
  std::vector<query::ad_total> totals;
  std::uint64_t cursor = 0;
  for (;;) {
    auto ads = store_.list_ads(advertiser_id, cursor, kAdsPerScan);
    if (!ads) return ads.error();
    for (const auto& ad : *ads) {
      auto t = ad_total(ad.ad_id, from_s, to_s);
      if (!t) return t.error();
      totals.push_back({ad.ad_id, *t});
    }
    if (ads->size() < kAdsPerScan) break;
    cursor = ads->back().ad_id;
  }
  std::sort(totals.begin(), totals.end(), [](const query::ad_total& a, const query::ad_total& b) {
    return a.clicks != b.clicks ? a.clicks > b.clicks : a.ad_id < b.ad_id;
  });
  ranking_page page;
  for (const auto& t : totals) page.total += t.clicks;
  auto it = totals.begin();
  if (after) {
    it = std::find_if(totals.begin(), totals.end(), [&](const query::ad_total& t) {
      return t.clicks < after->clicks || (t.clicks == after->clicks && t.ad_id > after->ad_id);
    });
  }
  for (; it != totals.end(); ++it) {
    if (page.ads.size() == limit) {
      page.next = ranking_cursor{page.ads.back().clicks, page.ads.back().ad_id};
      break;
    }
    page.ads.push_back(*it);
  }
  return page;
}

std::string to_json(const series& s) {
  auto time_or_null = [](const std::optional<std::int64_t>& t) {
    return t ? "\"" + base::format_time(*t) + "\"" : std::string("null");
  };
  const std::string_view key = to_string(s.gran);
  std::string out;
  out.reserve(160 + s.points.size() * (key.size() + 60));
  fmt::format_to(std::back_inserter(out),
                 "{{\"adId\":{},\"granularity\":\"{}\",\"from\":\"{}\",\"to\":\"{}\",\"series\":[", s.ad_id, key,
                 base::format_time(s.from_s), base::format_time(s.to_s));
  char ts[20];
  for (std::size_t i = 0; i < s.points.size(); ++i) {
    const auto& p = s.points[i];
    if (i > 0) out.push_back(',');
    out += "{\"";
    out += key;
    out += "\":\"";
    out.append(ts, base::format_time(p.start_s, ts));
    out += "\",\"clicks\":";
    out += std::to_string(p.clicks);
    out += ",\"state\":\"";
    out += to_string(p.state);
    out += "\"}";
  }
  fmt::format_to(std::back_inserter(out),
                 "],\"total\":{},\"invalid\":{{\"duplicate\":{},\"bad_signature\":{},\"expired\":{},"
                 "\"late\":{},\"unrecorded\":{}}},\"finalThrough\":{},\"reconciledThrough\":{}}}",
                 s.total, s.invalid.duplicate, s.invalid.bad_signature, s.invalid.expired, s.invalid.late,
                 s.invalid.unrecorded, time_or_null(s.final_through_s), time_or_null(s.reconciled_through_s));
  return out;
}

}  // namespace adclick::query
