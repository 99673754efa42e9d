#include "state/store.h"

#include <sys/statvfs.h>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/rate_limiter.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/event_clock.h"
#include "base/floor_div.h"

#include <bit>
#include <chrono>
#include <cstring>

namespace adclick::state {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.state"; }
  std::string message(int c) const override {
    switch (static_cast<state_errc>(c)) {
      case state_errc::corrupt: return "stored state is corrupt";
      case state_errc::io: return "state I/O error";
      case state_errc::failed: return "state operation failed";
    }
    return "unknown state error";
  }
};

std::error_code to_error(const rocksdb::Status& s) {
  if (s.IsCorruption()) return state_errc::corrupt;
  if (s.IsIOError()) return state_errc::io;
  return state_errc::failed;
}

// counts values are fixed 64-bit little-endian integers; merging adds them.
// Merges minute rows (state_format.h): slot-wise add, or overwrite for the
// slots an operand sets. Associative, so RocksDB may combine operands early.
class minute_row_operator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    minute_row into;
    minute_row later;
    // A corrupt row or operand: returning false makes RocksDB report
    // corruption for the key, rather than count from damaged bytes.
    if (!decode_minute_row(std::string_view(value.data(), value.size()), later)) return false;
    if (existing != nullptr &&
        !decode_minute_row(std::string_view(existing->data(), existing->size()), into)) {
      return false;
    }
    merge_minute_rows(into, later);
    *new_value = encode_minute_row(into);
    return true;
  }
  // Stable: stored in the database's options; never change it.
  const char* Name() const override { return "adclick.minute_rows"; }
};

// Drops dedup keys whose click has expired: no click is accepted after its
// expiry, so such a key can never catch a duplicate again. This is what keeps
// the dedup state bounded by the validity window, not by history. Stateless
// and thread-safe (it reads the event clock, as signature checks do).
class dedup_expiry_filter final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    if (value.size() != 8) return false;  // not ours to judge: keep it
    std::int64_t expires_at_s = 0;
    std::memcpy(&expires_at_s, value.data(), 8);
    // The clock that decides `expired` at the click path: a wall clock
    // stepped forward must not drop keys that clicks still count as valid.
    return expires_at_s < base::event_now_ms() / 1000;
  }
  // Stable: recorded in the database's options.
  const char* Name() const override { return "adclick.dedup_expiry"; }
};

enum cf_index { kDefault = 0, kAds, kDedup, kCounts, kMeta, kReconcile, kActive, kFamilies };

}  // namespace

const std::error_category& state_category() noexcept {
  static const category c;
  return c;
}

struct write_batch::impl {
  // A batch is built before it meets its store (and its column family
  // handles), so the operations are recorded and replayed by store::write.
  struct op {
    cf_index cf;
    enum { put, merge, del, del_range } kind;  // del_range: [key, value)
    std::string key, value;
  };
  std::vector<op> ops;
  std::size_t bytes = 0;
};

write_batch::write_batch() : impl_(std::make_unique<impl>()) {}
write_batch::~write_batch() = default;
write_batch::write_batch(write_batch&&) noexcept = default;
write_batch& write_batch::operator=(write_batch&&) noexcept = default;

void write_batch::add_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind,
                            std::uint64_t delta) {
  impl_->ops.push_back({kCounts, impl::op::merge, count_key(ad_id, row_hour(minute), kind),
                        encode_minute_delta(row_slot(minute), delta)});
  impl_->bytes += 17 + 24;
}

void write_batch::set_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind,
                            std::uint64_t value) {
  // A merge operand that overwrites the one minute, leaving the row's other
  // minutes as they are.
  impl_->ops.push_back({kCounts, impl::op::merge, count_key(ad_id, row_hour(minute), kind),
                        encode_minute_set(row_slot(minute), value)});
  impl_->bytes += 17 + 24;
}

void write_batch::put_count_row(std::uint64_t ad_id, std::int64_t hour, tally_kind kind,
                                const minute_row& row) {
  minute_row clean = row;
  clean.present &= kMinuteRowMask;
  clean.set = 0;
  std::string v = encode_minute_row(clean);
  impl_->bytes += 17 + v.size();
  impl_->ops.push_back({kCounts, impl::op::put, count_key(ad_id, hour, kind), std::move(v)});
}

void write_batch::put_dedup(std::uint64_t ad_id, std::string_view impression_id,
                            std::int64_t expires_at_s) {
  impl_->ops.push_back({kDedup, impl::op::put, dedup_key(ad_id, impression_id),
                        encode_u64(static_cast<std::uint64_t>(expires_at_s))});
  impl_->bytes += 16 + impression_id.size();
}

void write_batch::put_offset(std::uint32_t partition, std::uint64_t next_offset) {
  impl_->ops.push_back({kMeta, impl::op::put, offset_key(partition), encode_u64(next_offset)});
  impl_->bytes += 19;
}

void write_batch::put_watermark(std::uint32_t shard, std::int64_t watermark_ms) {
  impl_->ops.push_back({kMeta, impl::op::put, watermark_key(shard),
                        encode_u64(static_cast<std::uint64_t>(watermark_ms))});
  impl_->bytes += 22;
}

void write_batch::put_active(std::int64_t hour, std::uint64_t ad_id) {
  impl_->ops.push_back({kActive, impl::op::put, active_key(hour, ad_id), std::string()});
  impl_->bytes += 23;
}

void write_batch::put_ads_count(std::uint64_t n) {
  impl_->ops.push_back({kMeta, impl::op::put, ads_count_key(), encode_u64(n)});
  impl_->bytes += 17;
}

void write_batch::put_reconciled_through(std::int64_t ms) {
  impl_->ops.push_back({kMeta, impl::op::put, reconciled_through_key(),
                        encode_u64(static_cast<std::uint64_t>(ms))});
  impl_->bytes += 26;
}

void write_batch::put_report(std::uint64_t run_id, std::string_view json) {
  impl_->ops.push_back({kReconcile, impl::op::put, report_key(run_id), std::string(json)});
  impl_->bytes += 8 + json.size();
}

void write_batch::put_ad(const ad_record& ad, const std::optional<ad_record>& previous) {
  impl_->ops.push_back({kAds, impl::op::put, ad_key(ad.ad_id), encode_ad(ad)});
  if (previous && previous->advertiser_id != ad.advertiser_id) {
    impl_->ops.push_back(
        {kAds, impl::op::del, advertiser_index_key(previous->advertiser_id, ad.ad_id), ""});
  }
  impl_->ops.push_back({kAds, impl::op::put, advertiser_index_key(ad.advertiser_id, ad.ad_id), ""});
  impl_->ops.push_back({kAds, impl::op::put, ad_changed_key(ad.ad_id), ""});
  impl_->bytes += 73 + ad.url.size();
}

void write_batch::set_ads_snapshot(std::uint64_t epoch) {
  impl_->ops.push_back({kMeta, impl::op::put, ads_snapshot_key(), encode_u64(epoch)});
  impl_->ops.push_back({kAds, impl::op::del_range, kAdChangedBegin, kAdChangedEnd});
  impl_->bytes += 40;
}

std::size_t write_batch::operations() const { return impl_->ops.size(); }
std::size_t write_batch::bytes() const { return impl_->bytes; }
void write_batch::clear() {
  impl_->ops.clear();
  impl_->bytes = 0;
}

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

result<std::unique_ptr<store>> store::open(const std::string& dir, std::string& error_line,
                                           const store_options& options) {
  auto im = std::make_unique<impl>();
  rocksdb::DBOptions db_opts;
  if (options.file_system) {
    im->env = rocksdb::NewCompositeEnv(options.file_system);
    db_opts.env = im->env.get();
  }
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.paranoid_checks = true;
  // Restart time: replay the WAL into memtables and go on, without writing
  // them out as SST files first.
  db_opts.avoid_flush_during_recovery = true;
  // ...and keep that WAL short: past this size the oldest memtables are
  // flushed, so a restart replays at most this much.
  db_opts.max_total_wal_size = 16ull << 20;
  db_opts.max_background_jobs = 2;
  // A compaction rewrites tens of MiB. Written in one burst and synced at the
  // end, it fills the disk's queue for hundreds of milliseconds, and every
  // fdatasync of the log (the click path's durability) waits behind it. So
  // its writes are paced, and synced to disk as they go, 1 MiB at a time.
  db_opts.rate_limiter.reset(rocksdb::NewGenericRateLimiter(32ll << 20));
  db_opts.bytes_per_sync = 1ull << 20;
  im->statistics = rocksdb::CreateDBStatistics();
  // Only tickers are read (stats()): no timers, no histograms, so that no
  // read or write pays for a clock call.
  im->statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db_opts.statistics = im->statistics;

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
  counts.merge_operator = std::make_shared<minute_row_operator>();
  rocksdb::ColumnFamilyOptions dedup = base_cf();
  // Most dedup lookups miss: a whole-key bloom filter on the memtable answers
  // them without walking its skiplist.
  dedup.memtable_prefix_bloom_size_ratio = 0.1;
  dedup.memtable_whole_key_filtering = true;
  static dedup_expiry_filter expiry_filter;  // outlives every database
  dedup.compaction_filter = &expiry_filter;
  // The hour index takes a mark per ad and hour, so with clicks spread over
  // many ads nearly one per click. It is only ever scanned (once an hour, by
  // the batch layer), never read by key: a vector memtable appends each mark
  // and sorts once, at flush or scan, where a skiplist would search for each
  // mark's place as it is written.
  rocksdb::ColumnFamilyOptions active = base_cf();
  active.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  // A vector memtable takes its writes from one thread at a time.
  db_opts.allow_concurrent_memtable_write = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, base_cf()}, {kAdsFamily, base_cf()},
      {kDedupFamily, dedup},      {kCountsFamily, counts},
      {kMetaFamily, base_cf()},   {kReconcileFamily, base_cf()},
      {kActiveFamily, active},
  };
  rocksdb::DB* db = nullptr;
  const auto s = rocksdb::DB::Open(db_opts, dir, families, &im->handles, &db);
  if (!s.ok()) {
    error_line = "state: cannot open RocksDB in " + dir + ": " + s.ToString();
    return to_error(s);
  }
  im->db.reset(db);
  // A new state records its format; an existing one must be of this build's.
  auto check_format = [&]() -> std::error_code {
    std::string v;
    const auto key = format_version_key();
    auto s = im->db->Get(rocksdb::ReadOptions(), im->cf(kMeta), key, &v);
    if (s.IsNotFound()) {
      rocksdb::WriteOptions synced;
      synced.sync = true;
      s = im->db->Put(synced, im->cf(kMeta), key, encode_u64(kStateFormatVersion));
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
  };
  if (auto ec = check_format()) return ec;
  im->dir = dir;
  return std::unique_ptr<store>(new store(std::move(im)));
}

std::error_code store::write(write_batch& batch, bool sync) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.impl_->ops) {
    auto* cf = impl_->cf(op.cf);
    rocksdb::Status s;
    switch (op.kind) {
      case write_batch::impl::op::put: s = wb.Put(cf, op.key, op.value); break;
      case write_batch::impl::op::merge: s = wb.Merge(cf, op.key, op.value); break;
      case write_batch::impl::op::del: s = wb.Delete(cf, op.key); break;
      case write_batch::impl::op::del_range: s = wb.DeleteRange(cf, op.key, op.value); break;
    }
    if (!s.ok()) return to_error(s);
  }
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
                                                              std::int64_t allowed_lateness_ms) {
  std::int64_t lowest = INT64_MAX;
  for (std::uint32_t s = 0; s < shards; ++s) {
    auto wm = st.get_watermark(s);
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
