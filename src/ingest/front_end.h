#pragma once
// The click path's owner: the ad registry, the signer, the dedup index, the
// partitioner, the outcome tallies and the click processor over them, built
// together in that order and destroyed in reverse. Has no threads of its own.

#include <cstdint>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/dedup_index.h"
#include "ingest/outcome_tallies.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"

namespace adclick::base {
class metrics_registry;
}

namespace adclick::ingest {

struct front_end_options {
  std::uint64_t ad_cache_bytes = kDefaultAdCacheBytes;
  std::string ads_snapshot_path;  // none when empty
  std::map<std::string, std::string> signing_keys;  // kid -> raw key bytes
  std::string current_key;
  std::int64_t max_validity_s = 86'400;
  std::uint64_t hot_ad_rate = 5000;  // clicks/s that make an ad hot
  std::uint32_t hot_fanout = 4;
  std::vector<std::uint64_t> hot_ads;  // always hot
};

class front_end {
 public:
  // `store` and `log` must outlive the front end.
  front_end(state::store& store, log::click_log& log, const front_end_options& o);
  front_end(const front_end&) = delete;
  front_end& operator=(const front_end&) = delete;

  // Reads the ads' count and opens their snapshot (ad_registry::load). Once,
  // before the first click.
  [[nodiscard]] std::error_code load() { return ads_.load(); }

  // The ingest gauges: dedup keys pending, hot ads, the ad registry and its
  // cache. The front end must outlive every render of `m`.
  void register_metrics(base::metrics_registry& m);

  // Any thread; see each class for what it allows.
  ad_registry& ads() { return ads_; }
  const signer& signatures() const { return signer_; }
  // A config reload installs new keys here.
  signer& signer_keys() { return signer_; }
  dedup_index& dedup() { return dedup_; }
  partitioner& partitions() { return partitioner_; }
  outcome_tallies& tallies() { return tallies_; }
  click_processor& clicks() { return clicks_; }

 private:
  // Constant after construction (each is thread-safe on its own).
  ad_registry ads_;
  signer signer_;
  dedup_index dedup_;
  partitioner partitioner_;
  outcome_tallies tallies_;
  click_processor clicks_;
};

}  // namespace adclick::ingest
