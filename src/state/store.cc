#include "state/store.h"

#include <sys/statvfs.h>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <bit>
#include <chrono>
#include <cstring>

#include "base/floor_div.h"
#include "state/column_families.h"
#include "state/dedup_expiry_filter.h"
#include "state/minute_row_merge.h"
#include "state/rocksdb_status.h"
#include "state/write_batch_ops.h"

namespace adclick::state {

struct store::impl {
  // Destroyed in reverse order of declaration: handles before the DB, the
  // DB before the Env it runs on.
  std::unique_ptr<rocksdb::Env> env;  // null: the default Env
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::shared_ptr<rocksdb::Statistics> statistics;
  // A write failed: RocksDB may have stopped taking writes (a failed WAL
  // write is a hard error: the DB goes read-only until Resume()).
  std::atomic<bool> write_failed{false};
  std::string dir;  // for the free-space check
  std::atomic<std::int64_t> last_space_warning_ms{0};

  ~impl() {
    for (auto* h : handles) {
      if (h != nullptr && db) db->DestroyColumnFamilyHandle(h);
    }
    handles.clear();
    if (db) {
      const auto s = db->Close();
      if (!s.ok()) spdlog::error("state: closing RocksDB: {}", s.ToString());
    }
    db.reset();
  }
  rocksdb::ColumnFamilyHandle* cf(cf_index i) const { return handles[static_cast<std::size_t>(i)]; }
};

store::store(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}
store::~store() = default;

namespace {

// Restart time, paced compactions, tickers only. `env`: null for the
// default Env.
rocksdb::DBOptions db_options(rocksdb::Env* env, const std::shared_ptr<rocksdb::Statistics>& statistics) {
  rocksdb::DBOptions o;
  if (env != nullptr) o.env = env;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.paranoid_checks = true;
  // Restart time: replay the WAL into memtables and go on, without writing
  // them out as SST files first.
  o.avoid_flush_during_recovery = true;
  // ...and keep that WAL short: past this size the oldest memtables are
  // flushed, so a restart replays at most this much.
  o.max_total_wal_size = 16ull << 20;
  o.max_background_jobs = 2;
  // A compaction rewrites tens of MiB. Written in one burst and synced at the
  // end, it fills the disk's queue for hundreds of milliseconds, and every
  // fdatasync of the log (the click path's durability) waits behind it. So
  // its writes are paced, and synced to disk as they go, 1 MiB at a time.
  o.rate_limiter.reset(rocksdb::NewGenericRateLimiter(32ll << 20));
  o.bytes_per_sync = 1ull << 20;
  // Only tickers are read (stats()): no timers, no histograms, so that no
  // read or write pays for a clock call.
  statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  o.statistics = statistics;
  // The hour index's vector memtable (below) takes its writes from one
  // thread at a time.
  o.allow_concurrent_memtable_write = false;
  return o;
}

// Every family, in cf_index order.
std::vector<rocksdb::ColumnFamilyDescriptor> column_families() {
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  auto base_cf = [&] {
    rocksdb::ColumnFamilyOptions o;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    o.compression = rocksdb::kLZ4Compression;
    return o;
  };
  rocksdb::ColumnFamilyOptions counts = base_cf();
  counts.merge_operator = make_minute_row_merge();
  rocksdb::ColumnFamilyOptions dedup = base_cf();
  // Most dedup lookups miss: a whole-key bloom filter on the memtable answers
  // them without walking its skiplist.
  dedup.memtable_prefix_bloom_size_ratio = 0.1;
  dedup.memtable_whole_key_filtering = true;
  dedup.compaction_filter = dedup_expiry_filter();
  // Small memtables: a shard's commit inserts one key per click, and a
  // skiplist of 4 MiB stays in the caches where one of 64 MiB does not
  // (agg_bench: 18-36% more records/s per shard thread; write
  // amplification 1.53 -> 1.70; the click path unchanged).
  dedup.write_buffer_size = 4ull << 20;
  // The hour index takes a mark per ad and hour, so with clicks spread over
  // many ads nearly one per click. It is only ever scanned (once an hour, by
  // the batch layer), never read by key: a vector memtable appends each mark
  // and sorts once, at flush or scan, where a skiplist would search for each
  // mark's place as it is written.
  rocksdb::ColumnFamilyOptions active = base_cf();
  active.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  return {
      {rocksdb::kDefaultColumnFamilyName, base_cf()}, {kAdsFamily, base_cf()},
      {kDedupFamily, dedup},      {kCountsFamily, counts},
      {kMetaFamily, base_cf()},   {kReconcileFamily, base_cf()},
      {kActiveFamily, active},    {kPartialsFamily, base_cf()},
  };
}

// A new state records its format; an existing one must be of this build's.
std::error_code check_format(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, const std::string& dir,
                             std::string& error_line) {
  std::string v;
  const auto key = format_version_key();
  auto s = db.Get(rocksdb::ReadOptions(), meta, key, &v);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions synced;
    synced.sync = true;
    s = db.Put(synced, meta, key, encode_u64(kStateFormatVersion));
    if (!s.ok()) {
      error_line = "state: cannot record the state format in " + dir + ": " + s.ToString();
      return to_error(s);
    }
    return {};
  }
  if (!s.ok()) {
    error_line = "state: cannot read the state format in " + dir + ": " + s.ToString();
    return to_error(s);
  }
  const auto found = decode_u64(v);
  if (!found) {
    error_line = "state: the state format marker in " + dir + " is damaged";
    return state_errc::corrupt;
  }
  if (*found != kStateFormatVersion) {
    error_line = fmt::format(
        "state: {} holds state format {}, this adclick reads format {}; use a data dir "
        "written by this version",
        dir, *found, kStateFormatVersion);
    return state_errc::corrupt;
  }
  return {};
}

}  // namespace

result<std::unique_ptr<store>> store::open(const std::string& dir, std::string& error_line,
                                           const store_options& options) {
  auto im = std::make_unique<impl>();
  if (options.file_system) im->env = rocksdb::NewCompositeEnv(options.file_system);
  im->statistics = rocksdb::CreateDBStatistics();
  rocksdb::DB* db = nullptr;
  const auto s = rocksdb::DB::Open(db_options(im->env.get(), im->statistics), dir, column_families(), &im->handles, &db);
  if (!s.ok()) {
    error_line = "state: cannot open RocksDB in " + dir + ": " + s.ToString();
    return to_error(s);
  }
  im->db.reset(db);
  if (auto ec = check_format(*im->db, im->cf(kMeta), dir, error_line)) return ec;
  im->dir = dir;
  return std::unique_ptr<store>(new store(std::move(im)));
}

std::error_code store::write(write_batch& batch, bool sync) {
  // RocksDB's batch holds each operation with a few bytes of framing.
  rocksdb::WriteBatch wb(batch.impl_->rep.size() + 64);
  rocksdb::Status bad;
  batch.impl_->for_each([&](cf_index family, write_batch::impl::kind kind, std::string_view key,
                            std::string_view value) {
    if (!bad.ok()) return;
    auto* cf = impl_->cf(family);
    const rocksdb::Slice k(key.data(), key.size());
    const rocksdb::Slice v(value.data(), value.size());
    switch (kind) {
      case write_batch::impl::kind::put: bad = wb.Put(cf, k, v); break;
      case write_batch::impl::kind::merge: bad = wb.Merge(cf, k, v); break;
      case write_batch::impl::kind::del: bad = wb.Delete(cf, k); break;
      case write_batch::impl::kind::del_range: bad = wb.DeleteRange(cf, k, v); break;
    }
  });
  if (!bad.ok()) return to_error(bad);
  // Refuse before RocksDB runs out of space: a write that fails inside
  // RocksDB for want of space leaves its WAL writer in an error state that
  // Debian's build asserts on at the next write (the process aborts).
  struct statvfs fs{};
  if (::statvfs(impl_->dir.c_str(), &fs) == 0 &&
      static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < kMinFreeBytes) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (now - impl_->last_space_warning_ms.exchange(now) >= 1000) {
      spdlog::error("state: less than {} MiB free under {}: writes refused until space returns",
                    kMinFreeBytes >> 20, impl_->dir);
    }
    return std::make_error_code(std::errc::no_space_on_device);
  }
  if (impl_->write_failed.load(std::memory_order_acquire)) {
    // After a write error (a full disk, say) RocksDB refuses every write
    // until told to resume; resuming retries what it could not finish (a
    // flush, the WAL) and fails again while the cause is still there.
    const auto r = impl_->db->Resume();
    if (!r.ok()) {
      spdlog::error("state: RocksDB cannot resume writing yet: {}", r.ToString());
      return to_error(r);
    }
    impl_->write_failed.store(false, std::memory_order_release);
    spdlog::info("state: RocksDB resumed writing");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  const auto s = impl_->db->Write(wo, &wb);
  if (!s.ok()) {
    impl_->write_failed.store(true, std::memory_order_release);
    spdlog::error("state: write of {} operations failed: {}", batch.operations(), s.ToString());
    return to_error(s);
  }
  return {};
}

result<std::optional<ad_record>> store::get_ad(std::uint64_t ad_id) {
  std::string v;
  // The ad cache above holds the hot ads: a block read for a miss is not
  // worth keeping in RocksDB's block cache too.
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  const auto s = impl_->db->Get(ro, impl_->cf(kAds), ad_key(ad_id), &v);
  if (s.IsNotFound()) return std::optional<ad_record>();
  if (!s.ok()) return to_error(s);
  auto ad = decode_ad(ad_id, v);
  if (!ad) {
    spdlog::error("state: ad {} has a corrupt value ({} bytes)", ad_id, v.size());
    return state_errc::corrupt;
  }
  return std::optional<ad_record>(std::move(*ad));
}

std::error_code store::for_each_ad(const std::function<bool(const ad_record&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kAds)));
  for (it->Seek("a"); it->Valid() && it->key().starts_with("a"); it->Next()) {
    if (it->key().size() != 9) return state_errc::corrupt;
    const auto id = get_be64(it->key().data() + 1);
    auto ad = decode_ad(id, std::string_view(it->value().data(), it->value().size()));
    if (!ad) return state_errc::corrupt;
    if (!fn(*ad)) break;
  }
  return it->status().ok() ? std::error_code{} : to_error(it->status());
}

result<std::vector<ad_record>> store::list_ads(std::string_view advertiser_id, std::uint64_t after,
                                               std::size_t limit) {
  std::vector<ad_record> out;
  if (advertiser_id.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(
        impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kAds)));
    for (it->Seek(ad_key(after + 1)); it->Valid() && it->key().starts_with("a") && out.size() < limit;
         it->Next()) {
      if (it->key().size() != 9) return state_errc::corrupt;
      auto ad = decode_ad(get_be64(it->key().data() + 1),
                          std::string_view(it->value().data(), it->value().size()));
      if (!ad) return state_errc::corrupt;
      out.push_back(std::move(*ad));
    }
    if (!it->status().ok()) return to_error(it->status());
    return out;
  }
  const std::string prefix = advertiser_index_prefix(advertiser_id);
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kAds)));
  for (it->Seek(advertiser_index_key(advertiser_id, after + 1));
       it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
    if (it->key().size() != prefix.size() + 8) return state_errc::corrupt;
    const auto id = get_be64(it->key().data() + prefix.size());
    auto ad = get_ad(id);
    if (!ad) return ad.error();
    if (*ad) out.push_back(std::move(**ad));
  }
  if (!it->status().ok()) return to_error(it->status());
  return out;
}

result<std::optional<std::int64_t>> store::get_dedup(std::uint64_t ad_id,
                                                     std::string_view impression_id) {
  std::string v;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kDedup),
                                dedup_key(ad_id, impression_id), &v);
  if (s.IsNotFound()) return std::optional<std::int64_t>();
  if (!s.ok()) return to_error(s);
  auto e = decode_u64(v);
  if (!e) return state_errc::corrupt;
  return std::optional<std::int64_t>(static_cast<std::int64_t>(*e));
}

result<std::optional<std::uint64_t>> store::get_offset(std::uint32_t partition) {
  return get_meta_u64(offset_key(partition));
}

result<std::optional<std::int64_t>> store::get_watermark(std::uint32_t shard) {
  return get_meta_i64(watermark_key(shard));
}

result<std::optional<std::uint64_t>> store::get_counts_position(std::uint32_t partition) {
  return get_meta_u64(counts_position_key(partition));
}

result<std::optional<std::uint64_t>> store::get_dedup_through(std::uint32_t partition) {
  return get_meta_u64(dedup_through_key(partition));
}

result<std::optional<std::int64_t>> store::get_partition_watermark(std::uint32_t partition) {
  return get_meta_i64(partition_watermark_key(partition));
}

result<std::optional<partial_value>> store::get_partial(std::uint64_t ad_id, std::int64_t minute, tally_kind kind,
                                                        std::string_view source) {
  std::string v;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kPartials),
                                partial_key(ad_id, minute, kind, source), &v);
  if (s.IsNotFound()) return std::optional<partial_value>();
  if (!s.ok()) return to_error(s);
  auto p = decode_partial_value(v);
  if (!p) return state_errc::corrupt;
  return std::optional<partial_value>(*p);
}

result<std::uint64_t> store::sum_partials(std::uint64_t ad_id, std::int64_t minute, tally_kind kind) {
  const std::string prefix = partial_prefix(ad_id, minute, kind);
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kPartials)));
  std::uint64_t sum = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto p = decode_partial_value(std::string_view(it->value().data(), it->value().size()));
    if (!p) return state_errc::corrupt;
    sum += p->value;
  }
  if (!it->status().ok()) return to_error(it->status());
  return sum;
}

result<std::optional<std::uint64_t>> store::get_meta_u64(const std::string& key) {
  std::string v;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), key, &v);
  if (s.IsNotFound()) return std::optional<std::uint64_t>();
  if (!s.ok()) return to_error(s);
  auto o = decode_u64(v);
  if (!o) return state_errc::corrupt;
  return std::optional<std::uint64_t>(*o);
}

result<std::optional<std::int64_t>> store::get_meta_i64(const std::string& key) {
  auto v = get_meta_u64(key);
  if (!v) return v.error();
  if (!*v) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(static_cast<std::int64_t>(**v));
}

result<std::optional<std::int64_t>> store::get_reconciled_through() {
  return get_meta_i64(reconciled_through_key());
}

result<std::optional<std::uint64_t>> store::get_ads_count() { return get_meta_u64(ads_count_key()); }

result<std::optional<std::uint64_t>> store::get_ads_snapshot_epoch() {
  return get_meta_u64(ads_snapshot_key());
}

std::error_code store::for_each_changed_ad(const std::function<bool(std::uint64_t)>& fn) {
  rocksdb::ReadOptions ro;
  const rocksdb::Slice end(kAdChangedEnd);
  ro.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kAds)));
  for (it->Seek(kAdChangedBegin); it->Valid(); it->Next()) {
    if (it->key().size() != 9) return state_errc::corrupt;
    if (!fn(get_be64(it->key().data() + 1))) break;
  }
  return it->status().ok() ? std::error_code{} : to_error(it->status());
}

result<minute_row> store::get_count_row(std::uint64_t ad_id, std::int64_t hour, tally_kind kind) {
  std::string v;
  minute_row row;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kCounts), count_key(ad_id, hour, kind), &v);
  if (s.IsNotFound()) return row;
  if (!s.ok()) return to_error(s);
  if (!decode_minute_row(v, row)) return state_errc::corrupt;
  return row;
}

std::error_code store::scan_active_ads(std::int64_t hour,
                                       const std::function<void(std::uint64_t)>& fn) {
  const std::string prefix = active_prefix(hour);
  const std::string end = active_prefix(hour + 1);
  // The active family, then meta, where stores written before that family
  // hold their marks.
  for (const cf_index family : {kActive, kMeta}) {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(family)));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      const auto k = it->key();
      if (k.size() != prefix.size() + 8 || !k.starts_with(prefix)) return state_errc::corrupt;
      fn(get_be64(k.data() + prefix.size()));
    }
    if (!it->status().ok()) return to_error(it->status());
  }
  return {};
}

result<std::optional<std::string>> store::get_report(std::uint64_t run_id) {
  std::string v;
  const auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kReconcile), report_key(run_id), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return to_error(s);
  return std::optional<std::string>(std::move(v));
}

std::error_code store::list_reports(std::uint64_t before, std::size_t limit,
                                    const std::function<void(std::uint64_t, const std::string&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kReconcile)));
  if (before == 0) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(report_key(before - 1));
  }
  std::string value;
  for (std::size_t n = 0; it->Valid() && n < limit; it->Prev(), ++n) {
    if (it->key().size() != 8) return state_errc::corrupt;
    value.assign(it->value().data(), it->value().size());
    fn(get_be64(it->key().data()), value);
  }
  return it->status().ok() ? std::error_code{} : to_error(it->status());
}

result<std::uint64_t> store::last_report_id() {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kReconcile)));
  it->SeekToLast();
  if (!it->status().ok()) return to_error(it->status());
  if (!it->Valid()) return std::uint64_t{0};
  if (it->key().size() != 8) return state_errc::corrupt;
  return get_be64(it->key().data());
}

std::error_code store::scan_counts(
    std::uint64_t ad_id, std::int64_t from_minute, std::int64_t to_minute,
    const std::function<void(std::int64_t, tally_kind, std::uint64_t)>& fn) {
  if (from_minute >= to_minute) return {};
  const std::string start = count_key(ad_id, row_hour(from_minute), tally_kind::clicks);
  const std::string end = count_key(ad_id, row_hour(to_minute - 1) + 1, tally_kind::clicks);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kCounts)));
  minute_row row;
  for (it->Seek(start); it->Valid(); it->Next()) {
    auto parts = decode_count_key(std::string_view(it->key().data(), it->key().size()));
    if (!parts || parts->ad_id != ad_id ||
        !decode_minute_row(std::string_view(it->value().data(), it->value().size()), row)) {
      return state_errc::corrupt;
    }
    const std::int64_t base = parts->hour * kMinutesPerRow;
    for (std::uint64_t bits = row.present; bits != 0; bits &= bits - 1) {
      const int slot = std::countr_zero(bits);
      const std::int64_t minute = base + slot;
      if (minute < from_minute || minute >= to_minute) continue;
      fn(minute, parts->kind, row.value[slot]);
    }
  }
  return it->status().ok() ? std::error_code{} : to_error(it->status());
}

namespace {
std::error_code compact_family(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  const auto s = db.CompactRange(o, cf, nullptr, nullptr);
  return s.ok() ? std::error_code{} : to_error(s);
}
}  // namespace

std::error_code store::checkpoint(const std::string& dir, std::string& error_line) {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // log_size_for_flush 0: the memtables are flushed first, so the copy is
  // SST files (hard links) plus a short WAL.
  if (s.ok()) s = cp->CreateCheckpoint(dir, 0);
  if (s.ok()) return {};
  error_line = fmt::format("RocksDB checkpoint into {}: {}", dir, s.ToString());
  return to_error(s);
}

std::error_code store::compact_dedup() { return compact_family(*impl_->db, impl_->cf(kDedup)); }
std::error_code store::compact_counts() { return compact_family(*impl_->db, impl_->cf(kCounts)); }
std::error_code store::compact_ads() { return compact_family(*impl_->db, impl_->cf(kAds)); }

std::uint64_t store::dedup_keys_estimate() {
  std::uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->cf(kDedup), rocksdb::DB::Properties::kEstimateNumKeys, &n);
  return n;
}

store_stats store::stats() {
  store_stats st;
  std::uint64_t v = 0;
  for (auto* h : impl_->handles) {
    if (impl_->db->GetIntProperty(h, rocksdb::DB::Properties::kEstimateLiveDataSize, &v)) {
      st.live_data_bytes += v;
    }
    if (impl_->db->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) {
      st.sst_bytes += v;
    }
  }
  st.wal_bytes_written = impl_->statistics->getTickerCount(rocksdb::WAL_FILE_BYTES);
  st.user_bytes_written = impl_->statistics->getTickerCount(rocksdb::BYTES_WRITTEN);
  return st;
}

result<std::optional<std::int64_t>> committed_final_through_ms(store& st, std::uint32_t shards,
                                                              std::int64_t allowed_lateness_ms, std::uint32_t partitions) {
  std::int64_t lowest = INT64_MAX;
  if (partitions > 0) shards = partitions;
  for (std::uint32_t s = 0; s < shards; ++s) {
    auto wm = partitions > 0 ? st.get_partition_watermark(s) : st.get_watermark(s);
    if (!wm) return wm.error();
    if (!wm->has_value()) return std::optional<std::int64_t>();
    lowest = std::min(lowest, **wm);
  }
  if (shards == 0 || lowest == INT64_MIN) return std::optional<std::int64_t>();
  const std::int64_t ms = lowest - allowed_lateness_ms;
  const std::int64_t minute = base::floor_div(ms, 60000);
  return std::optional<std::int64_t>(minute * 60000);
}

}  // namespace adclick::state
