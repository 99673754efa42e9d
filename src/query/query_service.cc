#include "query/query_service.h"

#include <fmt/format.h>
#include <iterator>

#include <charconv>
#include <climits>
#include <ctime>

#include "state/store.h"

namespace adclick::query {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.query"; }
  std::string message(int c) const override {
    switch (static_cast<query_errc>(c)) {
      case query_errc::bad_range: return "from must be before to";
      case query_errc::too_many_points: return "too many buckets";
    }
    return "unknown query error";
  }
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

const std::error_category& query_category() noexcept {
  static const category c;
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

std::optional<std::int64_t> parse_time(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 12) return std::nullopt;  // beyond year 33658: not a click time
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || !read_int(s, 0, 4, y) || s[4] != '-' || !read_int(s, 5, 2, mo) ||
      s[7] != '-' || !read_int(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') ||
      !read_int(s, 11, 2, h) || s[13] != ':' || !read_int(s, 14, 2, mi) || s[16] != ':' ||
      !read_int(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 || y < 1970) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  std::int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    offset = 0;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh, om;
    if (!read_int(s, pos + 1, 2, oh) || !read_int(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
         h * 3600 + mi * 60 + se - offset;
}

std::size_t format_time(std::int64_t unix_s, char* out) {
  // Civil date from days (Howard Hinnant's algorithm): no gmtime per point.
  const std::int64_t days = floor_div(unix_s, 86400);
  const std::int64_t secs = unix_s - days * 86400;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const auto yy = static_cast<unsigned>(y);
  out[0] = static_cast<char>('0' + yy / 1000 % 10);
  out[1] = static_cast<char>('0' + yy / 100 % 10);
  two(out + 2, yy % 100);
  out[4] = '-';
  two(out + 5, m);
  out[7] = '-';
  two(out + 8, d);
  out[10] = 'T';
  two(out + 11, static_cast<unsigned>(secs / 3600));
  out[13] = ':';
  two(out + 14, static_cast<unsigned>(secs / 60 % 60));
  out[16] = ':';
  two(out + 17, static_cast<unsigned>(secs % 60));
  out[19] = 'Z';
  return 20;
}

std::string format_time(std::int64_t unix_s) {
  char buf[20];
  return std::string(buf, format_time(unix_s, buf));
}

query_service::query_service(state::store& store, query_options options)
    : store_(store), options_(options) {}

std::optional<std::int64_t> query_service::final_through_s() const {
  auto ms = state::committed_final_through_ms(store_, options_.shards, options_.allowed_lateness_ms);
  if (!ms || !ms->has_value()) return std::nullopt;
  return **ms / 1000;
}

std::optional<std::int64_t> query_service::reconciled_through_s() const {
  auto ms = store_.get_reconciled_through();
  if (!ms || !ms->has_value()) return std::nullopt;
  return floor_div(**ms, 60000) * 60;
}

result<series> query_service::ad_series(std::uint64_t ad_id, std::int64_t from_s, std::int64_t to_s,
                                        granularity g) const {
  if (from_s >= to_s) return query_errc::bad_range;
  const std::int64_t width = bucket_seconds(g);
  const std::int64_t first = floor_div(from_s, width) * width;
  const std::int64_t n = floor_div(to_s - 1 - first, width) + 1;
  if (n <= 0 || static_cast<std::uint64_t>(n) > options_.max_points) return query_errc::too_many_points;
  series out;
  out.ad_id = ad_id;
  out.gran = g;
  out.from_s = from_s;
  out.to_s = to_s;
  out.points.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out.points[static_cast<std::size_t>(i)].start_s = first + i * width;
  // Minute rows from the minute holding `from` to the last one starting before `to`.
  const std::int64_t from_min = floor_div(from_s, 60);
  const std::int64_t to_min = floor_div(to_s - 1, 60) + 1;
  auto ec = store_.scan_counts(ad_id, from_min, to_min,
                               [&](std::int64_t minute, state::tally_kind kind, std::uint64_t v) {
                                 const std::int64_t at = minute * 60;
                                 const auto idx = static_cast<std::size_t>(floor_div(at - first, width));
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
  auto ec = store_.scan_counts(ad_id, floor_div(from_s, 60), floor_div(to_s - 1, 60) + 1,
                               [&](std::int64_t, state::tally_kind kind, std::uint64_t v) {
                                 if (kind == state::tally_kind::clicks) total += v;
                               });
  if (ec) return ec;
  return total;
}

std::string to_json(const series& s) {
  auto time_or_null = [](const std::optional<std::int64_t>& t) {
    return t ? "\"" + format_time(*t) + "\"" : std::string("null");
  };
  const std::string_view key = to_string(s.gran);
  std::string out;
  out.reserve(160 + s.points.size() * (key.size() + 60));
  fmt::format_to(std::back_inserter(out),
                 "{{\"adId\":{},\"granularity\":\"{}\",\"from\":\"{}\",\"to\":\"{}\",\"series\":[", s.ad_id, key,
                 format_time(s.from_s), format_time(s.to_s));
  char ts[20];
  for (std::size_t i = 0; i < s.points.size(); ++i) {
    const auto& p = s.points[i];
    if (i > 0) out.push_back(',');
    out += "{\"";
    out += key;
    out += "\":\"";
    out.append(ts, format_time(p.start_s, ts));
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
