#pragma once
// The records of the counts topic: absolute partial counts. A partial is
// what one source has counted for one (adId, minute, kind): a click-topic
// partition (the aggregator that owns it publishes after each commit) or a
// front end's tallies (by node). Values are absolute, so a replay or a
// second publisher overwrites rather than adds; of two values for one key,
// the one with the higher version (the source's offset) is the later.
//
// Key (the compaction key: one live record per source, ad, minute, kind)
//   0  u8   format version (1)
//   1  u8   source length s (1..80), then s bytes
//      u64  ad id
//      i64  minute (Unix minutes)
//      u8   tally kind (state::tally_kind)
// Value
//   0  u8   format version (1)
//   1  u64  value (absolute)
//   9  u64  version
//  17  u32  checksum: low 32 bits of XXH3-64 over the key and value bytes [0, 17)
// Integers little-endian.

#include <cstdint>
#include <string>
#include <string_view>

namespace adclick::kafka {

inline constexpr std::size_t kMaxSourceLength = 80;

struct partial {
  std::string source;  // partition_source(p) or node_source(id)
  std::uint64_t ad_id = 0;
  std::int64_t minute = 0;
  std::uint8_t kind = 0;  // state::tally_kind
  std::uint64_t value = 0;
  std::uint64_t version = 0;

  friend bool operator==(const partial&, const partial&) = default;
};

std::string partition_source(std::uint32_t partition);  // "p<N>"
std::string node_source(std::string_view node_id);      // "n:<id>"

// False (and nothing appended) when the source is empty or too long.
[[nodiscard]] bool encode_partial(const partial& p, std::string& key, std::string& value);
// False when either part is malformed or the checksum does not match.
[[nodiscard]] bool decode_partial(std::string_view key, std::string_view value, partial& out);

}  // namespace adclick::kafka
