#include "state/state_format.h"

#include <cstring>

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
  put_be64(k, ad_id);
  k.append(impression_id);
  return k;
}

std::string count_key(std::uint64_t ad_id, std::int64_t minute, tally_kind kind) {
  std::string k;
  k.reserve(17);
  put_be64(k, ad_id);
  put_be64(k, static_cast<std::uint64_t>(minute));
  k.push_back(static_cast<char>(kind));
  return k;
}

std::optional<count_key_parts> decode_count_key(std::string_view key) {
  if (key.size() != 17) return std::nullopt;
  const auto kind = static_cast<std::uint8_t>(key[16]);
  if (kind >= kTallyKinds) return std::nullopt;
  return count_key_parts{get_be64(key.data()), static_cast<std::int64_t>(get_be64(key.data() + 8)),
                         static_cast<tally_kind>(kind)};
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

std::string encode_u64(std::uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

std::optional<std::uint64_t> decode_u64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data(), 8);
  return v;
}

}  // namespace adclick::state
