// The v1 signature "v1.<kid>.<exp>.<mac>": parse_signature and a real
// verification against two configured keys.

#include <string>

#include "fuzz_support.h"
#include "ingest/signature.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const ingest::signer signer(
      {{"k1", "0123456789abcdef0123456789abcdef"}, {"old", "fedcba9876543210fedcba9876543210"}},
      "k1", 86'400);
  const std::string_view sig = fuzz::as_text(data, size);
  ingest::parsed_signature parsed;
  const bool well_formed = ingest::parse_signature(sig, parsed);
  const auto check = signer.verify(42, "imp-1", sig, 1'800'000'000);
  if (!well_formed) {
    fuzz::require(check == ingest::signature_check::malformed, "unparsable means malformed");
    return 0;
  }
  fuzz::require(check != ingest::signature_check::malformed, "parsable is not malformed");
  if (check == ingest::signature_check::ok) {
    fuzz::require(parsed.key_id == "k1" || parsed.key_id == "old", "ok names a known key");
    fuzz::require(parsed.expires_at_s >= 1'800'000'000 &&
                      parsed.expires_at_s <= 1'800'000'000 + 86'400,
                  "ok is within validity");
  }
  (void)ingest::to_string(check);
  return 0;
}
