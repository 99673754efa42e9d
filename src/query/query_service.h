#pragma once
// The query service: per-ad click series at minute, hour or day granularity,
// and per-advertiser totals, read from the RocksDB `counts` family that the
// speed layer (and the batch layer) write. Knows nothing of HTTP or of the
// writers: it meets them only in state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adclick/result.h"
#include "state/state_format.h"

namespace adclick::state {
class store;
}

namespace adclick::query {

enum class granularity { minute, hour, day };
std::string_view to_string(granularity g);
std::optional<granularity> parse_granularity(std::string_view s);
std::int64_t bucket_seconds(granularity g);


enum class point_state { provisional, final_, reconciled };
std::string_view to_string(point_state s);

struct point {
  std::int64_t start_s = 0;  // bucket start, aligned to the granularity (UTC)
  std::uint64_t clicks = 0;
  point_state state = point_state::provisional;
};

struct tallies {
  std::uint64_t duplicate = 0, bad_signature = 0, expired = 0, late = 0, unrecorded = 0;
};

struct series {
  std::uint64_t ad_id = 0;
  granularity gran = granularity::minute;
  std::int64_t from_s = 0, to_s = 0;  // as asked
  std::vector<point> points;          // dense: every bucket, zero-filled
  std::uint64_t total = 0;
  tallies invalid;
  std::optional<std::int64_t> final_through_s;       // buckets ending at or before it are final
  std::optional<std::int64_t> reconciled_through_s;  // ... reconciled
};

// The series as the aggregates API answers it (written directly: tens of
// thousands of points, no JSON object per point).
std::string to_json(const series& s);

struct ad_total {
  std::uint64_t ad_id = 0;
  std::uint64_t clicks = 0;
};

// One page of an advertiser's ads ranked by clicks over a range: most clicks
// first, ties by ad id. A page's cursor is (clicks, adId) of its last item.
struct ranking_cursor {
  std::uint64_t clicks = 0;
  std::uint64_t ad_id = 0;
};
struct ranking_page {
  std::vector<ad_total> ads;
  std::uint64_t total = 0;              // clicks of all the advertiser's ads
  std::optional<ranking_cursor> next;   // set when more follow
};

enum class query_errc { bad_range = 1, too_many_points };
const std::error_category& query_category() noexcept;
inline std::error_code make_error_code(query_errc e) noexcept {
  return {static_cast<int>(e), query_category()};
}

struct query_options {
  std::uint64_t max_points = 100000;
  std::uint32_t shards = 2;                    // whose watermarks decide finality
  std::int64_t allowed_lateness_ms = 60000;
  std::uint32_t watermark_partitions = 0;      // Kafka: the partitions' instead (committed_final_through_ms)
};

// Thread safety: any thread, any number at once.
class query_service {
 public:
  query_service(state::store& store, query_options options);

  // Buckets that overlap [from_s, to_s). An error for from >= to or more
  // than max_points buckets.
  [[nodiscard]] result<series> ad_series(std::uint64_t ad_id, std::int64_t from_s, std::int64_t to_s,
                                         granularity g) const;
  // Total counted clicks of each ad over the range (minute rows in range).
  [[nodiscard]] result<std::uint64_t> ad_total(std::uint64_t ad_id, std::int64_t from_s,
                                               std::int64_t to_s) const;

  // The ads of advertiser_id (all ads when empty) ranked by clicks over
  // [from_s, to_s), the page after `after` (from the top when null), up to
  // limit ads. Reads every ad of the advertiser: run it off the I/O threads.
  [[nodiscard]] result<ranking_page> advertiser_ranking(std::string_view advertiser_id, std::int64_t from_s,
                                                        std::int64_t to_s, const std::optional<ranking_cursor>& after,
                                                        std::size_t limit) const;

  // The lowest committed shard watermark minus the allowed lateness, in
  // seconds, rounded down to a minute; nullopt until every shard committed one.
  std::optional<std::int64_t> final_through_s() const;
  std::optional<std::int64_t> reconciled_through_s() const;

 private:
  state::store& store_;
  const query_options options_;
};

}  // namespace adclick::query

template <>
struct std::is_error_code_enum<adclick::query::query_errc> : std::true_type {};
