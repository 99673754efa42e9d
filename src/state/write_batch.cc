#include "state/write_batch.h"

#include "state/write_batch_ops.h"

namespace adclick::state {

write_batch::write_batch() : impl_(std::make_unique<impl>()) {}
write_batch::~write_batch() = default;
write_batch::write_batch(write_batch&&) noexcept = default;
write_batch& write_batch::operator=(write_batch&&) noexcept = default;

void write_batch::add_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind,
                            std::uint64_t delta) {
  impl_->add(
      kCounts, impl::kind::merge,
      [&](std::string& out) { append_count_key(out, ad_id, row_hour(minute), kind); },
      [&](std::string& out) { append_minute_delta(out, row_slot(minute), delta); });
  impl_->bytes += 17 + 24;
}

void write_batch::set_count(std::uint64_t ad_id, std::int64_t minute, tally_kind kind,
                            std::uint64_t value) {
  // A merge operand that overwrites the one minute, leaving the row's other
  // minutes as they are.
  impl_->add(
      kCounts, impl::kind::merge,
      [&](std::string& out) { append_count_key(out, ad_id, row_hour(minute), kind); },
      [&](std::string& out) { append_minute_set(out, row_slot(minute), value); });
  impl_->bytes += 17 + 24;
}

void write_batch::put_count_row(std::uint64_t ad_id, std::int64_t hour, tally_kind kind,
                                const minute_row& row) {
  minute_row clean = row;
  clean.present &= kMinuteRowMask;
  clean.set = 0;
  std::string v = encode_minute_row(clean);
  impl_->bytes += 17 + v.size();
  impl_->add(kCounts, impl::kind::put, count_key(ad_id, hour, kind), v);
}

void write_batch::put_dedup(std::uint64_t ad_id, std::string_view impression_id,
                            std::int64_t expires_at_s) {
  impl_->add(
      kDedup, impl::kind::put,
      [&](std::string& out) { append_dedup_key(out, ad_id, impression_id); },
      [&](std::string& out) { append_u64(out, static_cast<std::uint64_t>(expires_at_s)); });
  impl_->bytes += 16 + impression_id.size();
}

void write_batch::put_offset(std::uint32_t partition, std::uint64_t next_offset) {
  impl_->add(kMeta, impl::kind::put, offset_key(partition), encode_u64(next_offset));
  impl_->bytes += 19;
}

void write_batch::put_watermark(std::uint32_t shard, std::int64_t watermark_ms) {
  impl_->add(kMeta, impl::kind::put, watermark_key(shard),
             encode_u64(static_cast<std::uint64_t>(watermark_ms)));
  impl_->bytes += 22;
}

void write_batch::put_partial(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::string_view source,
                              const partial_value& v) {
  impl_->add(kPartials, impl::kind::put, partial_key(ad_id, minute, kind, source),
             encode_partial_value(v));
  impl_->bytes += 17 + source.size() + 16;
}

void write_batch::put_counts_position(std::uint32_t partition, std::uint64_t next_offset) {
  impl_->add(kMeta, impl::kind::put, counts_position_key(partition), encode_u64(next_offset));
  impl_->bytes += 23;
}

void write_batch::put_dedup_through(std::uint32_t partition, std::uint64_t offset) {
  impl_->add(kMeta, impl::kind::put, dedup_through_key(partition), encode_u64(offset));
  impl_->bytes += 26;
}

void write_batch::put_partition_watermark(std::uint32_t partition, std::int64_t watermark_ms) {
  impl_->add(kMeta, impl::kind::put, partition_watermark_key(partition),
             encode_u64(static_cast<std::uint64_t>(watermark_ms)));
  impl_->bytes += 23;
}

void write_batch::put_active(std::int64_t hour, std::uint64_t ad_id) {
  impl_->add(
      kActive, impl::kind::put, [&](std::string& out) { append_active_key(out, hour, ad_id); },
      [](std::string&) {});
  impl_->bytes += 23;
}

void write_batch::put_ads_count(std::uint64_t n) {
  impl_->add(kMeta, impl::kind::put, ads_count_key(), encode_u64(n));
  impl_->bytes += 17;
}

void write_batch::put_reconciled_through(std::int64_t ms) {
  impl_->add(kMeta, impl::kind::put, reconciled_through_key(),
             encode_u64(static_cast<std::uint64_t>(ms)));
  impl_->bytes += 26;
}

void write_batch::put_report(std::uint64_t run_id, std::string_view json) {
  impl_->add(kReconcile, impl::kind::put, report_key(run_id), std::string(json));
  impl_->bytes += 8 + json.size();
}

void write_batch::put_ad(const ad_record& ad, const std::optional<ad_record>& previous) {
  impl_->add(kAds, impl::kind::put, ad_key(ad.ad_id), encode_ad(ad));
  if (previous && previous->advertiser_id != ad.advertiser_id) {
    impl_->add(kAds, impl::kind::del, advertiser_index_key(previous->advertiser_id, ad.ad_id), "");
  }
  impl_->add(kAds, impl::kind::put, advertiser_index_key(ad.advertiser_id, ad.ad_id), "");
  impl_->add(kAds, impl::kind::put, ad_changed_key(ad.ad_id), "");
  impl_->bytes += 73 + ad.url.size();
}

void write_batch::set_ads_snapshot(std::uint64_t epoch) {
  impl_->add(kMeta, impl::kind::put, ads_snapshot_key(), encode_u64(epoch));
  impl_->add(kAds, impl::kind::del_range, kAdChangedBegin, kAdChangedEnd);
  impl_->bytes += 40;
}

std::size_t write_batch::operations() const {
  return impl_->operations;
}
std::size_t write_batch::bytes() const { return impl_->bytes; }
void write_batch::clear() {
  impl_->rep.clear();
  impl_->operations = 0;
  impl_->bytes = 0;
}

}  // namespace adclick::state
