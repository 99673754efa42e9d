#pragma once
// The bulk loader: ads from CSV text into the registry.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace adclick::ingest {

class ad_registry;

// Bulk load of a CSV file `adId,advertiserId,url` (header line optional),
// in synced batches of up to 10,000 rows.
struct import_report {
  std::size_t imported = 0;
  std::vector<std::string> errors;  // "line N: reason"
};
import_report import_ads_csv(ad_registry& registry, std::string_view csv_text);

}  // namespace adclick::ingest
