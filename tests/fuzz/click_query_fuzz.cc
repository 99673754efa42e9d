// The /click query string: parse_click_query, then the v1 signature of what
// it found, verified with a real key.

#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "ingest/click_processor.h"
#include "ingest/signature.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const ingest::signer signer({{"k1", "0123456789abcdef0123456789abcdef"}}, "k1", 86'400);
  const std::string_view query = fuzz::as_text(data, size);
  ingest::click_params p;
  std::string why;
  if (!ingest::parse_click_query(query, p, why)) {
    fuzz::require(!why.empty(), "a refused query has a reason");
    return 0;
  }
  // The views point into the query.
  const auto inside = [&](std::string_view v) {
    return v.data() >= query.data() && v.data() + v.size() <= query.data() + query.size();
  };
  fuzz::require(inside(p.impression_id) && inside(p.signature), "views inside the query");
  fuzz::require(p.ad_id >= 1 && p.ad_id < (std::uint64_t{1} << 63), "adId in [1, 2^63)");
  fuzz::require(!p.impression_id.empty() && p.impression_id.size() <= 128, "impressionId length");
  fuzz::require(p.signature.size() <= 512, "signature length");
  ingest::parsed_signature parsed;
  const auto check = signer.verify(p.ad_id, p.impression_id, p.signature, 1'800'000'000, &parsed);
  if (check == ingest::signature_check::ok) {
    fuzz::require(signer.sign(p.ad_id, p.impression_id, parsed.expires_at_s) == p.signature,
                  "a valid signature is the one sign() makes");
  }
  return 0;
}
