#pragma once
// loadgen's latency histogram: HDR-style log-linear buckets over microseconds.
//
// Values below 2^kSubBucketBits µs (2048 µs) have their own bucket (1 µs
// resolution); above that each power of two is split into 1024 buckets, so a
// recorded value is known to within 1/1024 (0.1%) of itself. Values are
// clamped at kMaxMicros (about 19 hours), far beyond any request timeout.
// Not thread-safe: each loadgen worker owns one and they are merged at the end.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace adclick::bench {

class latency_histogram {
 public:
  static constexpr int kSubBucketBits = 11;
  static constexpr std::uint64_t kMaxMicros = (std::uint64_t{1} << 36) - 1;

  latency_histogram() : counts_(index_of(kMaxMicros) + 1, 0) {}

  void record(std::uint64_t micros) {
    const std::uint64_t v = std::min(micros, kMaxMicros);
    ++counts_[index_of(v)];
    ++count_;
    sum_ += v;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }

  void merge(const latency_histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
  }

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // The smallest recorded value v such that at least q (in [0, 1]) of all
  // values are <= v, reported as the highest value of its bucket (as HDR
  // Histogram does) and never above the exact maximum. 0 when empty.
  std::uint64_t quantile(double q) const {
    if (count_ == 0) return 0;
    const double want_d = q * static_cast<double>(count_);
    auto want = static_cast<std::uint64_t>(want_d);
    if (static_cast<double>(want) < want_d) ++want;  // ceil
    want = std::clamp<std::uint64_t>(want, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want) return std::min(highest_in_bucket(i), max_);
    }
    return max_;
  }

  // Bucket arithmetic, public for tests and for readers of the contract above.
  static std::size_t index_of(std::uint64_t v) {
    // Bucket k >= 1 holds [2^(k+B-1), 2^(k+B)) in steps of 2^k; bucket 0 holds [0, 2^B).
    const int msb = v == 0 ? 0 : std::bit_width(v) - 1;
    const int k = std::max(0, msb - (kSubBucketBits - 1));
    return (static_cast<std::size_t>(k) << (kSubBucketBits - 1)) + static_cast<std::size_t>(v >> k);
  }
  static std::uint64_t highest_in_bucket(std::size_t index) {
    constexpr std::size_t kHalf = std::size_t{1} << (kSubBucketBits - 1);
    const std::size_t k = index < 2 * kHalf ? 0 : index / kHalf - 1;
    const std::uint64_t sub = index - (k << (kSubBucketBits - 1));
    return ((sub + 1) << k) - 1;
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace adclick::bench
