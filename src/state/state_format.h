#pragma once
// Key and value encodings of the RocksDB state, shared by every writer (ads
// admin, aggregation shards, reconciliation) and reader (click path, query).
// Integers in keys are big-endian so that byte order is numeric order; values
// are little-endian.
//
// Column families
//   ads        "a" adId(8)                          -> ad value (below)
//              "v" advertiserId 0x00 adId(8)        -> "" (advertiser -> ads index)
//   dedup      adId(8) impressionId                 -> expiry Unix s, i64
//   counts     adId(8) minute(8) kind(1)            -> u64 count (merge-add)
//              kind 0 = counted clicks; 1.. = outcome tallies (tally_kind)
//   meta       "offset/" partition(4)               -> next log offset to apply, u64
//              "watermark/" shard(4)                -> event-time watermark ms, i64
//   reconcile  (the batch layer's reports)
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

std::string count_key(std::uint64_t ad_id, std::int64_t minute, tally_kind kind);
struct count_key_parts {
  std::uint64_t ad_id;
  std::int64_t minute;  // Unix minutes
  tally_kind kind;
};
std::optional<count_key_parts> decode_count_key(std::string_view key);

std::string offset_key(std::uint32_t partition);
std::string watermark_key(std::uint32_t shard);

std::string encode_u64(std::uint64_t v);
std::optional<std::uint64_t> decode_u64(std::string_view bytes);

}  // namespace adclick::state
