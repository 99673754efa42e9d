#include "state/write_batch.h"

#include "state/write_batch_ops.h"

namespace adclick::state {

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

void write_batch::put_partial(std::uint64_t ad_id, std::int64_t minute, tally_kind kind, std::string_view source,
                              const partial_value& v) {
  impl_->ops.push_back({kPartials, impl::op::put, partial_key(ad_id, minute, kind, source), encode_partial_value(v)});
  impl_->bytes += 17 + source.size() + 16;
}

void write_batch::put_counts_position(std::uint32_t partition, std::uint64_t next_offset) {
  impl_->ops.push_back({kMeta, impl::op::put, counts_position_key(partition), encode_u64(next_offset)});
  impl_->bytes += 23;
}

void write_batch::put_dedup_through(std::uint32_t partition, std::uint64_t offset) {
  impl_->ops.push_back({kMeta, impl::op::put, dedup_through_key(partition), encode_u64(offset)});
  impl_->bytes += 26;
}

void write_batch::put_partition_watermark(std::uint32_t partition, std::int64_t watermark_ms) {
  impl_->ops.push_back({kMeta, impl::op::put, partition_watermark_key(partition),
                        encode_u64(static_cast<std::uint64_t>(watermark_ms))});
  impl_->bytes += 23;
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

}  // namespace adclick::state
