// The ads CSV (`adId,advertiserId,url`, header optional) into the real
// registry over a real RocksDB store. Every row is imported or named in an
// error; an imported ad is then found with a valid URL and advertiser.

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "ingest/ad_registry.h"
#include "state/store.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static state::store* store = [] {
    std::string error_line;
    auto s = state::store::open(fuzz::scratch_dir() + "/state", error_line);
    fuzz::require(bool(s), "store opens");
    return s->release();
  }();
  static ingest::ad_registry* registry = new ingest::ad_registry(*store);
  const std::string_view csv = fuzz::as_text(data, size);
  const auto rep = ingest::import_ads_csv(*registry, csv);
  const std::size_t lines = static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) + 1;
  fuzz::require(rep.imported + rep.errors.size() <= lines, "at most one outcome per line");
  for (const auto& e : rep.errors) {
    fuzz::require(e.starts_with("line "), "errors name their line");
  }
  if (rep.imported > 0) {
    // The last good row of this input is in the registry now.
    std::string_view text = csv;
    while (!text.empty()) {
      const auto eol = text.rfind('\n', text.size() - 1);
      std::string_view line = eol == std::string_view::npos ? text : text.substr(eol + 1);
      text = eol == std::string_view::npos ? std::string_view() : text.substr(0, eol);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const auto c1 = line.find(',');
      if (c1 == std::string_view::npos) continue;
      std::uint64_t id = 0;
      const auto [p, ec] = std::from_chars(line.data(), line.data() + c1, id);
      if (ec != std::errc() || p != line.data() + c1) continue;
      if (auto ad = registry->find(id)) {
        std::string why;
        fuzz::require(ingest::valid_ad_url(ad->url, why), "a registered URL is valid");
        fuzz::require(ingest::valid_advertiser_id(ad->advertiser_id), "a registered advertiser is valid");
      }
      break;
    }
  }
  return 0;
}
