#include "ingest/front_end.h"

#include "adclick/click_log.h"
#include "base/event_clock.h"
#include "base/metrics.h"

namespace adclick::ingest {

front_end::front_end(state::store& store, log::click_log& log, const front_end_options& o)
    : ads_(store, o.ad_cache_bytes, o.ads_snapshot_path),
      signer_(o.signing_keys, o.current_key, o.max_validity_s),
      dedup_(&store, log.partitions()),
      partitioner_(log.partitions(), o.hot_ad_rate, o.hot_fanout, o.hot_ads),
      clicks_(log, ads_, dedup_, partitioner_, signer_, tallies_) {}

void front_end::register_metrics(base::metrics_registry& m) {
  const auto& dedup = dedup_;
  auto& parts = partitioner_;  // hot_ads() ages the rates it reads: not const
  const auto& ads = ads_;
  m.add_gauge("adclick_dedup_pending", "Dedup keys waiting for their shard's commit", "",
              [&dedup] { return static_cast<double>(dedup.pending()); });
  m.add_gauge("adclick_hot_ads", "Ads currently salted over several partitions", "",
              [&parts] { return static_cast<double>(parts.hot_ads(base::event_now_ms()).size()); });
  m.add_gauge("adclick_ads_registered", "Ads in the registry", "", [&ads] { return static_cast<double>(ads.size()); });
  m.add_gauge("adclick_ad_cache_bytes", "Memory charged to cached ad records and the cache's admission table", "",
              [&ads] { return static_cast<double>(ads.cache().bytes()); });
  m.add_gauge("adclick_ad_cache_capacity_bytes", "ingest.ad_cache", "",
              [&ads] { return static_cast<double>(ads.cache().capacity_bytes()); });
  m.add_gauge("adclick_ad_cache_entries", "Cached ad records (and cached unknown ids)", "",
              [&ads] { return static_cast<double>(ads.cache().entries()); });
  m.add_counter_fn("adclick_ad_cache_hits_total", "Ad lookups answered by the cache", "",
              [&ads] { return static_cast<double>(ads.cache().hits()); });
  m.add_counter_fn("adclick_ad_cache_misses_total", "Ad lookups the cache missed", "",
              [&ads] { return static_cast<double>(ads.cache().misses()); });
  m.add_gauge("adclick_ads_snapshot_ads", "Ads in the ads snapshot in use (0: none)", "",
              [&ads] { return static_cast<double>(ads.snapshot_ads()); });
  m.add_gauge("adclick_ads_snapshot_bytes", "Memory of ingest.ad_cache set aside for the snapshot", "",
              [&ads] { return static_cast<double>(ads.snapshot_bytes()); });
  m.add_counter_fn("adclick_ads_snapshot_reads_total", "Cache misses answered from the snapshot", "",
              [&ads] { return static_cast<double>(ads.snapshot_reads()); });
  m.add_counter_fn("adclick_ads_snapshot_errors_total",
              "Snapshot pages that failed their checksum or a read (answered from RocksDB)", "",
              [&ads] { return static_cast<double>(ads.snapshot_errors()); });
}

}  // namespace adclick::ingest
