#pragma once
// Updates that must agree, built without RocksDB and applied atomically by
// store::write.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "state/state_format.h"

namespace adclick::state {

class store;

class write_batch {
 public:
  write_batch();
  ~write_batch();
  write_batch(write_batch&&) noexcept;
  write_batch& operator=(write_batch&&) noexcept;

  // counts: add `delta` to one minute's counter (a merge).
  void add_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::uint64_t delta);
  // counts: overwrite one minute's counter, whatever was merged into it
  // before (the batch layer's corrections); deltas merged after it add on.
  void set_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::uint64_t value);
  // counts: replace a whole row (a damaged one; `set` bits are dropped).
  void put_count_row(std::uint64_t ad_id, std::int64_t hour, tally_kind kind, const minute_row& row);
  void put_dedup(std::uint64_t ad_id, std::string_view impression_id, std::int64_t expires_at_s);
  void put_offset(std::uint32_t partition, std::uint64_t next_offset);
  void put_watermark(std::uint32_t shard, std::int64_t watermark_ms);
  // partials: one source's absolute count for a minute (Kafka backend).
  void put_partial(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::string_view source,
                   const partial_value& v);
  // meta: the next offset to read in a partition of the counts topic.
  void put_counts_position(std::uint32_t partition, std::uint64_t next_offset);
  // meta: the dedup keys of a click partition are complete below this offset.
  void put_dedup_through(std::uint32_t partition, std::uint64_t offset);
  // meta: the watermark of the shard that last flushed a click partition.
  void put_partition_watermark(std::uint32_t partition, std::int64_t watermark_ms);
  // active: the ad has a clicks row in this hour (see store::scan_active_ads).
  void put_active(std::int64_t hour, std::uint64_t ad_id);
  // meta: every minute before `ms` has been reconciled.
  void put_reconciled_through(std::int64_t ms);
  // meta: how many ads are registered.
  void put_ads_count(std::uint64_t n);
  // reconcile: a run's report (JSON text).
  void put_report(std::uint64_t run_id, std::string_view json);
  // ads: the record plus the advertiser index (moving it if the advertiser
  // changed), and the mark that the ad changed since the ads snapshot.
  void put_ad(const ad_record& ad, const std::optional<ad_record>& previous);
  // meta: the ads snapshot with this epoch may answer; ads: every changed
  // mark is dropped (the snapshot holds those ads as they are now).
  void set_ads_snapshot(std::uint64_t epoch);

  std::size_t operations() const;
  std::size_t bytes() const;
  void clear();

 private:
  friend class store;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace adclick::state
