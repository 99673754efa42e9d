#pragma once
// Click signatures, v1 (the contract is in DESIGN.md):
//
//   signature = "v1." kid "." exp "." mac
//   mac       = unpadded base64url of HMAC-SHA256(key, "v1\n{adId}\n{impressionId}\n{exp}")
//
// kid names a key of signing.keys, exp is the expiry in Unix seconds.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/published.h"

namespace adclick::ingest {

enum class signature_check {
  ok,
  malformed,    // not of the v1 form
  unknown_key,  // kid not configured
  bad_mac,      // MAC does not match
  expired,      // exp is in the past
  too_far,      // exp further ahead than max_validity
};

std::string_view to_string(signature_check c);

struct parsed_signature {
  std::string_view key_id;
  std::int64_t expires_at_s = 0;
  std::string_view mac;  // base64url text
  unsigned char mac_bytes[32] = {};  // the MAC decoded
};

// Parses the v1 form, the MAC's base64url included, without checking the
// MAC against a key. False if it is malformed.
[[nodiscard]] bool parse_signature(std::string_view sig, parsed_signature& out);

// The keys. verify() and sign() may be called from any thread at once, and
// while replace_keys() installs a new set (a config reload): each call sees
// either the old set or the new one, whole.
class signer {
 public:
  // keys: kid -> raw key bytes. current_key names the one that signs.
  signer(const std::map<std::string, std::string>& keys, const std::string& current_key,
         std::int64_t max_validity_s);
  ~signer();
  signer(const signer&) = delete;
  signer& operator=(const signer&) = delete;

  // Verifies `sig` for (ad_id, impression_id) at time now_s (Unix seconds).
  // The MAC is compared in constant time.
  signature_check verify(std::uint64_t ad_id, std::string_view impression_id,
                         std::string_view sig, std::int64_t now_s,
                         parsed_signature* parsed = nullptr) const;

  // Signs with the current key.
  std::string sign(std::uint64_t ad_id, std::string_view impression_id,
                   std::int64_t expires_at_s) const;

  // Installs a new key set (rotation: add the new key, make it current,
  // keep the old one until its links expire). False, and nothing changes,
  // when current_key names none of `keys`.
  [[nodiscard]] bool replace_keys(const std::map<std::string, std::string>& keys,
                                  const std::string& current_key);

  // The current key's id; the reference stays valid for the signer's life.
  const std::string& current_key() const { return keys_.get().current; }
  std::int64_t max_validity_s() const { return max_validity_s_; }

 private:
  struct key;
  struct key_set {
    std::map<std::string, std::unique_ptr<key>, std::less<>> keys;
    std::string current;
  };
  // `before`: the set being replaced, whose unchanged keys keep their serials.
  static key_set make_key_set(const std::map<std::string, std::string>& keys,
                              const std::string& current_key, const key_set* before);
  static const key* find(const key_set& set, std::string_view kid);

  base::published<key_set> keys_;
  std::int64_t max_validity_s_;
};

// HMAC-SHA256(key, "v1\n{adId}\n{impressionId}\n{exp}") as unpadded base64url,
// with a one-off key (tools and tests; signer is the fast path).
std::string click_mac(std::string_view raw_key, std::uint64_t ad_id,
                      std::string_view impression_id, std::int64_t expires_at_s);

// A fresh impression id for minted click links: a UUIDv4 from OpenSSL's CSPRNG.
std::string new_impression_id();

}  // namespace adclick::ingest
