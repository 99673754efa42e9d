// What adclick reads back from RocksDB: counts rows (as values and as merge
// operands), count keys, ad records, u64 values and stored reconciliation
// reports. Decoders must refuse what they cannot read exactly.

#include <string>

#include "fuzz_support.h"
#include "recon/report.h"
#include "state/state_format.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);

  state::minute_row row;
  if (state::decode_minute_row(bytes, row)) {
    state::minute_row again;
    fuzz::require(state::decode_minute_row(state::encode_minute_row(row), again),
                  "an encoded row decodes");
    state::minute_row merged = row;
    state::merge_minute_rows(merged, again);
  }
  if (auto k = state::decode_count_key(bytes)) {
    fuzz::require(state::count_key(k->ad_id, k->hour, k->kind) == bytes, "count key round trip");
  }
  if (auto ad = state::decode_ad(7, bytes)) {
    fuzz::require(state::decode_ad(7, state::encode_ad(*ad)).has_value(), "ad round trip");
  }
  if (auto v = state::decode_u64(bytes)) {
    fuzz::require(state::encode_u64(*v) == bytes, "u64 round trip");
  }
  if (auto r = recon::report_from_json(bytes)) {
    fuzz::require(recon::report_from_json(recon::to_json(*r)).has_value(), "report round trip");
  }
  return 0;
}
