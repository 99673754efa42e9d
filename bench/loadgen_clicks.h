#pragma once
// loadgen's click paths: which ad, which impression, signed how.
//
// A click_source produces `/click?adId=..&impressionId=..&signature=..` paths
// signed with adclick::ingest::signer, the same code the server verifies with.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/signature.h"

namespace adclick::bench {

// Decodes standard base64 (RFC 4648 section 4, '=' padding required), as the
// config writes signing keys. nullopt if `text` is not canonical base64.
std::optional<std::string> decode_base64(std::string_view text);

// splitmix64: small, fast and good enough to pick ads and outcomes.
class fast_rng {
 public:
  explicit fast_rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

// Ad ids 1..ads with Zipf popularity: P(ad k) is proportional to 1 / k^exponent
// (exponent 0 is uniform), so ad 1 is the hottest. The CDF is computed once;
// a draw is one binary search (about 17 steps for 100,000 ads). Exponent 0
// (uniform) keeps no table and draws in constant time, so that a load over
// millions of ads does not spend the shared CPU on cache-missing searches.
// Constant after construction: may be shared by threads.
class zipf_ads {
 public:
  zipf_ads(std::uint64_t ads, double exponent);
  std::uint64_t draw(fast_rng& rng) const;
  // Share of all clicks that ad `id` gets (for the summary and tests).
  double share(std::uint64_t id) const;

 private:
  std::uint64_t ads_;
  std::vector<double> cdf_;  // cdf_[k] = P(ad id <= k + 1), cdf_.back() == 1; empty when uniform
};

enum class click_kind { fresh, duplicate, invalid };

struct click_options {
  std::uint64_t ads = 1000;
  double zipf = 1.0;
  std::int64_t ttl_s = 3600;
  double dup_fraction = 0;      // re-send an earlier valid click's exact path
  double invalid_fraction = 0;  // a fresh click whose MAC is corrupted
};

// Makes click paths for one thread. Impression ids are `{run}-{stream}-{n}`
// with n counting up from 0, so two sources with distinct (run, stream) never
// repeat an impression id. Not thread-safe: one per worker.
class click_source {
 public:
  // `run` and `stream` must consist of [A-Za-z0-9._~-]; `signer` and `ads`
  // must outlive this object.
  click_source(const ingest::signer& signer, const zipf_ads& ads, const click_options& options,
               std::string run, std::uint32_t stream, std::uint64_t seed);

  // The next path; `kind` says what it is. A duplicate is chosen among the
  // last kRememberedClicks fresh valid paths this source returned; until there
  // is one, a fresh click is made instead.
  std::string next(click_kind& kind);

  static constexpr std::size_t kRememberedClicks = 4096;

 private:
  std::string fresh(bool corrupt_mac);

  const ingest::signer& signer_;
  const zipf_ads& ads_;
  click_options options_;
  std::string id_prefix_;  // "{run}-{stream}-"
  fast_rng rng_;
  std::uint64_t counter_ = 0;
  std::vector<std::string> remembered_;  // ring of recent fresh valid paths
  std::size_t remembered_next_ = 0;
};

// Replaces the first character of the MAC (the last dot-separated field of
// the signature at the end of `path`) with another base64url character, so
// the signature stays well-formed but its MAC no longer matches.
void corrupt_mac(std::string& path);

}  // namespace adclick::bench
