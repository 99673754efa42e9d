#pragma once
// The RocksDB state of adclick, behind an interface that keeps RocksDB's
// headers out of every file that uses it. Column families and encodings are
// in state_format.h.
//
// Durability: write(batch, sync=true) returns after RocksDB's WAL holds the
// batch and has been fsynced; all updates of one batch become visible and
// durable together or not at all. A write is refused (no_space_on_device)
// while less than kMinFreeBytes are free on the store's filesystem, so that
// RocksDB itself never runs out of space mid-write.
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "adclick/result.h"
#include "state/state_errc.h"
#include "state/state_format.h"
#include "state/write_batch.h"

namespace rocksdb {
class FileSystem;
}

namespace adclick::state {

inline constexpr std::uint64_t kMinFreeBytes = 32ull << 20;

// How a store is opened.
struct store_options {
  // RocksDB's file layer (null: the default, POSIX). The fault seam for
  // tests, as log_options::fs is for the log: a wrapper that injects
  // failures or models what a power loss leaves.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

struct store_stats {
  std::uint64_t live_data_bytes = 0;   // estimate, all families
  std::uint64_t sst_bytes = 0;         // total SST file size
  std::uint64_t wal_bytes_written = 0;
  std::uint64_t user_bytes_written = 0;
};

class store {
 public:
  // Opens (creating if needed) the database in `dir`. On failure `error_line`
  // says what.
  [[nodiscard]] static result<std::unique_ptr<store>> open(const std::string& dir,
                                                          std::string& error_line,
                                                          const store_options& options = {});
  ~store();  // closes the database (column family handles first)
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  [[nodiscard]] std::error_code write(write_batch& batch, bool sync);

  [[nodiscard]] result<std::optional<ad_record>> get_ad(std::uint64_t ad_id);
  // All ads in id order; fn returns false to stop.
  [[nodiscard]] std::error_code for_each_ad(const std::function<bool(const ad_record&)>& fn);
  // Ads of one advertiser (or all when empty) with id > after, in id order.
  [[nodiscard]] result<std::vector<ad_record>> list_ads(std::string_view advertiser_id,
                                                        std::uint64_t after, std::size_t limit);

  // The expiry of a committed dedup key, if present.
  [[nodiscard]] result<std::optional<std::int64_t>> get_dedup(std::uint64_t ad_id,
                                                              std::string_view impression_id);

  [[nodiscard]] result<std::optional<std::uint64_t>> get_offset(std::uint32_t partition);
  [[nodiscard]] result<std::optional<std::int64_t>> get_watermark(std::uint32_t shard);
  [[nodiscard]] result<std::optional<std::uint64_t>> get_counts_position(std::uint32_t partition);
  [[nodiscard]] result<std::optional<std::uint64_t>> get_dedup_through(std::uint32_t partition);
  [[nodiscard]] result<std::optional<std::int64_t>> get_partition_watermark(std::uint32_t partition);

  // Kafka backend: one source's partial for a minute, and the sum over every
  // source's (what the minute's counts row holds).
  [[nodiscard]] result<std::optional<partial_value>> get_partial(std::uint64_t ad_id, std::int64_t minute,
                                                                 tally_kind kind, std::string_view source);
  [[nodiscard]] result<std::uint64_t> sum_partials(std::uint64_t ad_id, std::int64_t minute, tally_kind kind);

  [[nodiscard]] result<std::optional<std::int64_t>> get_reconciled_through();
  // nullopt for a data dir from before the count was kept.
  [[nodiscard]] result<std::optional<std::uint64_t>> get_ads_count();
  // The epoch of the ads snapshot that may answer; nullopt when none.
  [[nodiscard]] result<std::optional<std::uint64_t>> get_ads_snapshot_epoch();
  // The ads changed since that snapshot, in id order; fn returns false to stop.
  [[nodiscard]] std::error_code for_each_changed_ad(const std::function<bool(std::uint64_t)>& fn);

  // One counts row (an empty row when there is none).
  [[nodiscard]] result<minute_row> get_count_row(std::uint64_t ad_id, std::int64_t hour, tally_kind kind);
  // The ads with a clicks row in `hour` (put_active). An ad marked both in
  // the active family and, by an older build, in meta is named twice.
  [[nodiscard]] std::error_code scan_active_ads(std::int64_t hour,
                                                const std::function<void(std::uint64_t ad_id)>& fn);

  // Reconciliation reports.
  [[nodiscard]] result<std::optional<std::string>> get_report(std::uint64_t run_id);
  // Reports with id < before (all when before is 0), newest first, up to
  // `limit`; fn gets (id, json).
  [[nodiscard]] std::error_code list_reports(
      std::uint64_t before, std::size_t limit,
      const std::function<void(std::uint64_t, const std::string&)>& fn);
  // The highest report id (0 when there is none).
  [[nodiscard]] result<std::uint64_t> last_report_id();

  // The counters of one ad with minute in [from_minute, to_minute), in key
  // order: hour by hour, within an hour kind by kind, then minute by minute.
  // Minutes without a value are skipped.
  [[nodiscard]] std::error_code scan_counts(
      std::uint64_t ad_id, std::int64_t from_minute, std::int64_t to_minute,
      const std::function<void(std::int64_t minute, tally_kind kind, std::uint64_t value)>& fn);

  // A consistent copy of the whole database (every family, as of one
  // moment) in `dir`, which must not exist: SST files hard-linked, the rest
  // copied, synced (RocksDB's Checkpoint). Writes go on meanwhile.
  [[nodiscard]] std::error_code checkpoint(const std::string& dir, std::string& error_line);

  // Compacts the dedup family now, dropping expired keys (RocksDB also does
  // it in its own compactions).
  [[nodiscard]] std::error_code compact_dedup();
  // Compacts the counts family now: merge operands become plain values, so
  // later scans need not merge them.
  [[nodiscard]] std::error_code compact_counts();
  // Compacts the ads family now: after a bulk import the ads sit in one
  // sorted run, so a lookup reads one file instead of every level-0 file the
  // import left, and the server does not inherit the compaction work.
  [[nodiscard]] std::error_code compact_ads();
  std::uint64_t dedup_keys_estimate();

  store_stats stats();

 private:
  // A u64 value of the meta family; nullopt when absent.
  result<std::optional<std::uint64_t>> get_meta_u64(const std::string& key);
  // The same, for a value stored as the u64 image of an i64 (times).
  result<std::optional<std::int64_t>> get_meta_i64(const std::string& key);

  struct impl;
  explicit store(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

// The speed layer's finality from its committed watermarks: the lowest
// watermark of shards 0..shards-1 minus the allowed lateness, floored to a
// minute (Unix ms). Minutes before it will not change in the speed layer.
// nullopt while some shard has not committed a watermark yet. With
// `partitions` (a cluster on Kafka, where shards come and go with the
// group's assignment), the watermarks of click partitions 0..partitions-1
// instead, as their last flushes carried them.
[[nodiscard]] result<std::optional<std::int64_t>> committed_final_through_ms(
    store& st, std::uint32_t shards, std::int64_t allowed_lateness_ms, std::uint32_t partitions = 0);

}  // namespace adclick::state

