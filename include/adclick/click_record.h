#pragma once
// The click record: what the front end appends to the log for every counted
// click, and what the aggregation shards and the reconciliation read back.
// Its on-disk encoding lives in src/log/record_format.h.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace adclick {

// Limits that the encoding enforces (the front end validates before append).
inline constexpr std::size_t kMaxKeyIdLength = 32;
inline constexpr std::size_t kMaxImpressionIdLength = 128;
// User agents longer than this are truncated by the front end before append.
inline constexpr std::size_t kMaxUserAgentLength = 256;

// A client address as raw bytes: family 0 (unknown), 4 (IPv4: bytes[0..4))
// or 6 (IPv6: bytes[0..16)).
struct client_address {
  std::uint8_t family = 0;
  std::array<std::uint8_t, 16> bytes{};

  friend bool operator==(const client_address&, const client_address&) = default;
};

// Renders "1.2.3.4", "2001:db8::1" or "-" for an unknown address.
std::string to_string(const client_address& a);

// An owning click record (the append side).
struct click_record {
  std::int64_t event_time_ms = 0;  // server time when the click arrived, Unix ms
  std::uint64_t ad_id = 0;         // in [1, 2^63)
  std::int64_t expires_at_s = 0;   // the signature's `exp`, Unix seconds
  std::string key_id;              // the signing key id (`kid`)
  std::string impression_id;       // 1..128 chars of [A-Za-z0-9._~-]
  client_address client;
  std::string user_agent;  // at most kMaxUserAgentLength bytes

  friend bool operator==(const click_record&, const click_record&) = default;
};

// A decoded record that points into a reader's buffer (the read side: no
// allocation per record). Valid only until the reader's next call.
struct click_view {
  std::int64_t event_time_ms = 0;
  std::uint64_t ad_id = 0;
  std::int64_t expires_at_s = 0;
  std::string_view key_id;
  std::string_view impression_id;
  client_address client;
  std::string_view user_agent;

  click_record to_record() const {
    return click_record{event_time_ms, ad_id,  expires_at_s,         std::string(key_id),
                        std::string(impression_id), client, std::string(user_agent)};
  }
};

}  // namespace adclick
