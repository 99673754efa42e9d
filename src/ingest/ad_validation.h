#pragma once
// What makes an ad valid: its id (base::parse_ad_id's rule), its
// advertiser's id and the URL it redirects to.

#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/registry_errc.h"

namespace adclick::ingest {

// Checks a redirect target: absolute http or https URL with a host, at most
// 2048 bytes, printable ASCII only (no whitespace, no control characters, no
// raw non-ASCII: percent-encode it), no user info. False with the reason.
[[nodiscard]] bool valid_ad_url(std::string_view url, std::string& why);
// Advertiser ids: 1..64 of [A-Za-z0-9._-].
[[nodiscard]] bool valid_advertiser_id(std::string_view id);

// The checks of put(): registry_errc{} when the ad is valid, else the error
// with `why` set.
registry_errc validate_ad(std::uint64_t ad_id, std::string_view advertiser_id, std::string_view url,
                          std::string& why);

}  // namespace adclick::ingest
