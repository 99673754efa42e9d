// The ads snapshot file as the disk hands it back: open() must refuse a
// damaged footer or directory, and find() must answer, say "no such ad" or
// report corruption for any page, never read outside what it was given.

#include <fstream>
#include <string>

#include "fuzz_support.h"
#include "state/ads_snapshot.h"
#include "state/store.h"

using namespace adclick;

namespace {
std::uint64_t le64_at(std::string_view b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && at + i < b.size(); ++i) {
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  }
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);
  const std::string path = fuzz::scratch_dir() + "/ads.snap";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string why;
  auto snap = state::ads_snapshot::open(path, why);
  if (!snap) {
    fuzz::require(!why.empty(), "a refused snapshot says why");
    return 0;
  }
  // Ids near the start of the file (a first record's id) and a few fixed ones.
  for (const std::uint64_t id : {le64_at(bytes, 0), le64_at(bytes, 0) + 1, std::uint64_t{1},
                                 std::uint64_t{7}, le64_at(bytes, size / 2), ~std::uint64_t{0}}) {
    auto got = (*snap)->find(id);
    if (got && *got) fuzz::require((*got)->ad_id == id, "find returns the ad asked for");
    if (!got) fuzz::require(got.error() == state::state_errc::corrupt, "a bad page is corrupt");
  }
  return 0;
}
