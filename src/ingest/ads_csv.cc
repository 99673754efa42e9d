#include "ingest/ads_csv.h"

#include "base/ad_id.h"
#include "ingest/ad_registry.h"

namespace adclick::ingest {

import_report import_ads_csv(ad_registry& registry, std::string_view text) {
  constexpr std::size_t kBatchRows = 10'000;
  import_report rep;
  std::vector<ad_row> batch;
  std::vector<std::size_t> batch_lines;  // line number of each row of the batch
  auto write_batch = [&] {
    if (batch.empty()) return;
    if (auto ec = registry.put_batch(batch)) {
      for (const std::size_t line : batch_lines) {
        rep.errors.push_back("line " + std::to_string(line) + ": " + ec.message());
      }
    } else {
      rep.imported += batch.size();
    }
    batch.clear();
    batch_lines.clear();
  };
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.rfind("adId,", 0) == 0) continue;  // header
    const auto c1 = line.find(',');
    const auto c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string_view::npos) {
      rep.errors.push_back("line " + std::to_string(line_no) +
                           ": expected 3 fields adId,advertiserId,url");
      continue;
    }
    const std::string_view id_text = line.substr(0, c1);
    const std::string_view adv = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view url = line.substr(c2 + 1);
    const auto parsed_id = base::parse_ad_id(id_text);
    if (!parsed_id) {
      rep.errors.push_back("line " + std::to_string(line_no) + ": " + std::string(base::kAdIdRule));
      continue;
    }
    const std::uint64_t id = *parsed_id;
    std::string why;
    if (validate_ad(id, adv, url, why) != registry_errc{}) {
      rep.errors.push_back("line " + std::to_string(line_no) + ": " + why);
      continue;
    }
    batch.push_back(ad_row{id, std::string(adv), std::string(url)});
    batch_lines.push_back(line_no);
    if (batch.size() >= kBatchRows) write_batch();
  }
  write_batch();
  return rep;
}

}  // namespace adclick::ingest
