#pragma once
// Key and value encodings of the RocksDB state, shared by every writer (ads
// admin, aggregation shards, reconciliation) and reader (click path, query).
// Integers in keys are big-endian so that byte order is numeric order; values
// are little-endian.
//
// Column families
//   ads        "a" adId(8)                          -> ad value (below)
//              "v" advertiserId 0x00 adId(8)        -> "" (advertiser -> ads index)
//              "c" adId(8)                          -> "" (the ad changed since the
//                                                      ads snapshot was written;
//                                                      see ads_snapshot.h)
//   dedup      adId(8) impressionId                 -> expiry Unix s, i64
//   counts     adId(8) hour(8) kind(1)              -> minute row (below; merged)
//              kind 0 = counted clicks; 1.. = outcome tallies (tally_kind)
//              hour = Unix minute / 60 (floor); one row per (ad, hour, kind)
//              holds that hour's 60 minute counters, so a long minute series
//              reads 60x fewer rows than with a row per minute.
//   meta       "offset/" partition(4)               -> next log offset to apply, u64
//              "watermark/" shard(4)                -> event-time watermark ms, i64
//   reconcile  (the batch layer's reports)
//   active     "active/" hour(8) adId(8)            -> "" (the ad has a clicks row
//                                                      for that hour; written with it.
//                                                      Stores written before this
//                                                      family hold them in meta,
//                                                      where they are still read)
//   meta       "format"                             -> state format version, u64
//              "reconciled_through"                 -> Unix ms, i64: every minute
//                                                      before it has been reconciled
//              "ads_count"                          -> ads registered, u64 (written
//                                                      with every ad that adds one)
//              "ads_snapshot"                       -> epoch of the ads snapshot
//                                                      that may answer, u64
//   reconcile  runId(8)                             -> report, JSON text
//   partials   adId(8) minute(8) kind(1) source     -> u64 value | u64 version
//              (Kafka backend: the absolute count one source has published
//              for one minute, see kafka/partial_record.h; minute is stored
//              with its sign bit flipped, so byte order is numeric order. The
//              counts row of that minute holds the sum over the sources.)
//   meta       "counts_pos/" partition(4)           -> next offset to read in that
//                                                      partition of the counts topic
//              "pwatermark/" partition(4)           -> the watermark (ms, i64) of the
//                                                      shard that last flushed that
//                                                      click partition (Kafka)
//              "dedup_through/" partition(4)        -> the dedup family holds the
//                                                      keys of every record of that
//                                                      click partition below it
//                                                      (within the validity window)
//
// Minute row, the counts value and also its merge operand:
//   u64 present | u64 set | u64 value for each bit of `present`, lowest first
//   Bit i is minute i of the hour (0..59); bits 60..63 are never set. A merge
//   of a later row into an earlier one adds slot by slot, except for the
//   slots in the later row's `set`: those take its value (an overwrite, which
//   the batch layer uses). Merging is associative.
//
// Ad value, version 1
//   u8 version (1) | u8 status (0 active, 1 paused) | u8 len | advertiserId |
//   u16 len | url | i64 updated_ms

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::state {

inline constexpr const char* kAdsFamily = "ads";
inline constexpr const char* kDedupFamily = "dedup";
inline constexpr const char* kCountsFamily = "counts";
inline constexpr const char* kMetaFamily = "meta";
inline constexpr const char* kReconcileFamily = "reconcile";
inline constexpr const char* kActiveFamily = "active";
inline constexpr const char* kPartialsFamily = "partials";

// What a counts row counts besides clicks (per ad and minute).
enum class tally_kind : std::uint8_t {
  clicks = 0,
  duplicate = 1,
  bad_signature = 2,
  expired = 3,
  late = 4,
  unrecorded = 5,
};
inline constexpr int kTallyKinds = 6;
std::string_view to_string(tally_kind k);

struct ad_record {
  std::uint64_t ad_id = 0;
  std::string advertiser_id;
  std::string url;
  bool paused = false;
  std::int64_t updated_ms = 0;

  friend bool operator==(const ad_record&, const ad_record&) = default;
};

inline void put_be64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string ad_key(std::uint64_t ad_id);
std::string advertiser_index_key(std::string_view advertiser_id, std::uint64_t ad_id);
std::string advertiser_index_prefix(std::string_view advertiser_id);
std::string encode_ad(const ad_record& ad);
// nullopt if the bytes are not a valid ad value.
std::optional<ad_record> decode_ad(std::uint64_t ad_id, std::string_view bytes);

std::string dedup_key(std::uint64_t ad_id, std::string_view impression_id);
// The same bytes appended to `out` (a write batch builds keys in place).
void append_dedup_key(std::string& out, std::uint64_t ad_id, std::string_view impression_id);

// The version of this layout; store::open refuses a data dir of another one.
inline constexpr std::uint64_t kStateFormatVersion = 2;
std::string format_version_key();

inline constexpr std::int64_t kMinutesPerRow = 60;
// The row holding `minute`, and the minute's slot in it.
inline std::int64_t row_hour(std::int64_t minute) {
  return minute >= 0 ? minute / kMinutesPerRow : -((-minute + kMinutesPerRow - 1) / kMinutesPerRow);
}
inline int row_slot(std::int64_t minute) {
  return static_cast<int>(minute - row_hour(minute) * kMinutesPerRow);
}

std::string count_key(std::uint64_t ad_id, std::int64_t hour, tally_kind kind);
void append_count_key(std::string& out, std::uint64_t ad_id, std::int64_t hour, tally_kind kind);
struct count_key_parts {
  std::uint64_t ad_id;
  std::int64_t hour;  // Unix minutes / 60
  tally_kind kind;
};
std::optional<count_key_parts> decode_count_key(std::string_view key);

struct minute_row {
  std::uint64_t present = 0;  // bit i: slot i holds a value
  std::uint64_t set = 0;      // bit i: slot i overwrites (only in operands)
  std::uint64_t value[kMinutesPerRow] = {};  // zero where not present
};
inline constexpr std::uint64_t kMinuteRowMask = (std::uint64_t{1} << kMinutesPerRow) - 1;
// An operand adding `delta` to one minute (slot 0..59), or setting it.
std::string encode_minute_delta(int slot, std::uint64_t delta);
std::string encode_minute_set(int slot, std::uint64_t value);
// The same bytes appended to `out`.
void append_minute_delta(std::string& out, int slot, std::uint64_t delta);
void append_minute_set(std::string& out, int slot, std::uint64_t value);
std::string encode_minute_row(const minute_row& row);
// False if the bytes are not a valid minute row.
bool decode_minute_row(std::string_view bytes, minute_row& out);
// Merges `later` into `into` (see the layout above).
void merge_minute_rows(minute_row& into, const minute_row& later);

std::string offset_key(std::uint32_t partition);
std::string watermark_key(std::uint32_t shard);
std::string counts_position_key(std::uint32_t partition);
std::string dedup_through_key(std::uint32_t partition);
std::string partition_watermark_key(std::uint32_t partition);

// partials: the key of one source's value, and the prefix of every source's.
std::string partial_prefix(std::uint64_t ad_id, std::int64_t minute, tally_kind kind);
std::string partial_key(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::string_view source);
struct partial_value {
  std::uint64_t value = 0;
  std::uint64_t version = 0;
  friend bool operator==(const partial_value&, const partial_value&) = default;
};
std::string encode_partial_value(const partial_value& v);
// nullopt if the bytes are not a valid partial value.
std::optional<partial_value> decode_partial_value(std::string_view bytes);
std::string active_key(std::int64_t hour, std::uint64_t ad_id);
void append_active_key(std::string& out, std::int64_t hour, std::uint64_t ad_id);
std::string active_prefix(std::int64_t hour);
std::string reconciled_through_key();
std::string ads_count_key();
std::string ads_snapshot_key();
// ads: "c" adId(8), and the range [kAdChangedBegin, kAdChangedEnd) of all of them.
std::string ad_changed_key(std::uint64_t ad_id);
inline constexpr const char* kAdChangedBegin = "c";
inline constexpr const char* kAdChangedEnd = "d";
std::string report_key(std::uint64_t run_id);

std::string encode_u64(std::uint64_t v);
void append_u64(std::string& out, std::uint64_t v);
std::optional<std::uint64_t> decode_u64(std::string_view bytes);

}  // namespace adclick::state
