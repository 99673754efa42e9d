#include "state/state_format.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>

namespace adclick::state {

std::string_view to_string(tally_kind k) {
  switch (k) {
    case tally_kind::clicks: return "clicks";
    case tally_kind::duplicate: return "duplicate";
    case tally_kind::bad_signature: return "bad_signature";
    case tally_kind::expired: return "expired";
    case tally_kind::late: return "late";
    case tally_kind::unrecorded: return "unrecorded";
  }
  return "?";
}

std::string ad_key(std::uint64_t ad_id) {
  std::string k = "a";
  put_be64(k, ad_id);
  return k;
}

std::string advertiser_index_prefix(std::string_view advertiser_id) {
  std::string k = "v";
  k.append(advertiser_id);
  k.push_back('\0');
  return k;
}

std::string advertiser_index_key(std::string_view advertiser_id, std::uint64_t ad_id) {
  std::string k = advertiser_index_prefix(advertiser_id);
  put_be64(k, ad_id);
  return k;
}

std::string encode_ad(const ad_record& ad) {
  std::string v;
  v.push_back(1);
  v.push_back(ad.paused ? 1 : 0);
  v.push_back(static_cast<char>(ad.advertiser_id.size()));
  v.append(ad.advertiser_id);
  const auto n = static_cast<std::uint16_t>(ad.url.size());
  v.append(reinterpret_cast<const char*>(&n), 2);
  v.append(ad.url);
  v.append(reinterpret_cast<const char*>(&ad.updated_ms), 8);
  return v;
}

std::optional<ad_record> decode_ad(std::uint64_t ad_id, std::string_view b) {
  ad_record ad;
  ad.ad_id = ad_id;
  if (b.size() < 3 || b[0] != 1 || (b[1] != 0 && b[1] != 1)) return std::nullopt;
  ad.paused = b[1] == 1;
  const std::size_t adv = static_cast<unsigned char>(b[2]);
  b.remove_prefix(3);
  if (b.size() < adv + 2) return std::nullopt;
  ad.advertiser_id.assign(b.substr(0, adv));
  b.remove_prefix(adv);
  std::uint16_t url = 0;
  std::memcpy(&url, b.data(), 2);
  b.remove_prefix(2);
  if (b.size() != std::size_t{url} + 8) return std::nullopt;
  ad.url.assign(b.substr(0, url));
  std::memcpy(&ad.updated_ms, b.data() + url, 8);
  return ad;
}

std::string dedup_key(std::uint64_t ad_id, std::string_view impression_id) {
  std::string k;
  k.reserve(8 + impression_id.size());
  append_dedup_key(k, ad_id, impression_id);
  return k;
}

void append_dedup_key(std::string& out, std::uint64_t ad_id, std::string_view impression_id) {
  put_be64(out, ad_id);
  out.append(impression_id);
}

std::string format_version_key() { return "format"; }

std::string count_key(std::uint64_t ad_id, std::int64_t hour, tally_kind kind) {
  std::string k;
  k.reserve(17);
  append_count_key(k, ad_id, hour, kind);
  return k;
}

void append_count_key(std::string& out, std::uint64_t ad_id, std::int64_t hour, tally_kind kind) {
  put_be64(out, ad_id);
  put_be64(out, static_cast<std::uint64_t>(hour));
  out.push_back(static_cast<char>(kind));
}

std::optional<count_key_parts> decode_count_key(std::string_view key) {
  if (key.size() != 17) return std::nullopt;
  const auto kind = static_cast<std::uint8_t>(key[16]);
  if (kind >= kTallyKinds) return std::nullopt;
  return count_key_parts{get_be64(key.data()), static_cast<std::int64_t>(get_be64(key.data() + 8)),
                         static_cast<tally_kind>(kind)};
}

namespace {

void put_le64(std::string& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}

std::uint64_t get_le64(const char* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

void append_one_slot(std::string& out, int slot, std::uint64_t v, bool overwrite) {
  const std::uint64_t bit = std::uint64_t{1} << slot;
  put_le64(out, bit);
  put_le64(out, overwrite ? bit : 0);
  put_le64(out, v);
}

std::string one_slot(int slot, std::uint64_t v, bool overwrite) {
  std::string out;
  out.reserve(24);
  append_one_slot(out, slot, v, overwrite);
  return out;
}

}  // namespace

std::string encode_minute_delta(int slot, std::uint64_t delta) { return one_slot(slot, delta, false); }

std::string encode_minute_set(int slot, std::uint64_t value) { return one_slot(slot, value, true); }

void append_minute_delta(std::string& out, int slot, std::uint64_t delta) {
  append_one_slot(out, slot, delta, false);
}

void append_minute_set(std::string& out, int slot, std::uint64_t value) {
  append_one_slot(out, slot, value, true);
}

std::string encode_minute_row(const minute_row& row) {
  std::string out;
  out.reserve(16 + 8 * static_cast<std::size_t>(std::popcount(row.present)));
  put_le64(out, row.present);
  put_le64(out, row.set);
  for (std::uint64_t bits = row.present; bits != 0; bits &= bits - 1) {
    put_le64(out, row.value[std::countr_zero(bits)]);
  }
  return out;
}

bool decode_minute_row(std::string_view bytes, minute_row& out) {
  if (bytes.size() < 16) return false;
  const std::uint64_t present = get_le64(bytes.data());
  const std::uint64_t set = get_le64(bytes.data() + 8);
  if ((present & ~kMinuteRowMask) != 0 || (set & ~present) != 0) return false;
  if (bytes.size() != 16 + 8 * static_cast<std::size_t>(std::popcount(present))) return false;
  out.present = present;
  out.set = set;
  std::fill(std::begin(out.value), std::end(out.value), 0);
  const char* p = bytes.data() + 16;
  for (std::uint64_t bits = present; bits != 0; bits &= bits - 1, p += 8) {
    out.value[std::countr_zero(bits)] = get_le64(p);
  }
  return true;
}

void merge_minute_rows(minute_row& into, const minute_row& later) {
  for (std::uint64_t bits = later.present; bits != 0; bits &= bits - 1) {
    const int i = std::countr_zero(bits);
    const std::uint64_t bit = std::uint64_t{1} << i;
    if ((later.set & bit) != 0) {
      into.value[i] = later.value[i];
      into.set |= bit;
    } else {
      into.value[i] += later.value[i];  // mod 2^64, as counters are
    }
  }
  into.present |= later.present;
}

namespace {

// The hour index's keys: "active/", the hour, the ad.
void append_active_prefix(std::string& out, std::int64_t hour) {
  out.append("active/");
  put_be64(out, static_cast<std::uint64_t>(hour));
}

}  // namespace

std::string active_prefix(std::int64_t hour) {
  std::string k;
  append_active_prefix(k, hour);
  return k;
}

std::string active_key(std::int64_t hour, std::uint64_t ad_id) {
  std::string k;
  append_active_key(k, hour, ad_id);
  return k;
}

void append_active_key(std::string& out, std::int64_t hour, std::uint64_t ad_id) {
  append_active_prefix(out, hour);
  put_be64(out, ad_id);
}

std::string reconciled_through_key() { return "reconciled_through"; }
std::string ads_count_key() { return "ads_count"; }
std::string ads_snapshot_key() { return "ads_snapshot"; }

std::string ad_changed_key(std::uint64_t ad_id) {
  std::string k = kAdChangedBegin;
  put_be64(k, ad_id);
  return k;
}

std::string report_key(std::uint64_t run_id) {
  std::string k;
  put_be64(k, run_id);
  return k;
}

std::string offset_key(std::uint32_t partition) {
  std::string k = "offset/";
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((partition >> (8 * i)) & 0xff));
  return k;
}

std::string watermark_key(std::uint32_t shard) {
  std::string k = "watermark/";
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((shard >> (8 * i)) & 0xff));
  return k;
}

namespace {
std::string partition_key(const char* prefix, std::uint32_t partition) {
  std::string k = prefix;
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((partition >> (8 * i)) & 0xff));
  return k;
}
}  // namespace

std::string counts_position_key(std::uint32_t partition) { return partition_key("counts_pos/", partition); }
std::string dedup_through_key(std::uint32_t partition) { return partition_key("dedup_through/", partition); }
std::string partition_watermark_key(std::uint32_t partition) { return partition_key("pwatermark/", partition); }

std::string partial_prefix(std::uint64_t ad_id, std::int64_t minute, tally_kind kind) {
  std::string k;
  k.reserve(17 + 16);
  put_be64(k, ad_id);
  put_be64(k, static_cast<std::uint64_t>(minute) ^ (std::uint64_t{1} << 63));
  k.push_back(static_cast<char>(kind));
  return k;
}

std::string partial_key(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::string_view source) {
  std::string k = partial_prefix(ad_id, minute, kind);
  k.append(source);
  return k;
}

std::string encode_partial_value(const partial_value& v) { return encode_u64(v.value) + encode_u64(v.version); }

std::optional<partial_value> decode_partial_value(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  auto value = decode_u64(bytes.substr(0, 8));
  auto version = decode_u64(bytes.substr(8, 8));
  return partial_value{*value, *version};
}

std::string encode_u64(std::uint64_t v) {
  std::string out;
  append_u64(out, v);
  return out;
}

void append_u64(std::string& out, std::uint64_t v) {
  put_le64(out, v);
}

std::optional<std::uint64_t> decode_u64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data(), 8);
  return v;
}

}  // namespace adclick::state
