#pragma once
// Click floods: per client address, the clicks counted in the current
// minute, on one ad and on all ads. A click beyond `per_ip_ad` on one ad, or
// beyond `per_ip` on all ads, in one minute (ivt.max_clicks_per_ip_ad,
// ivt.max_clicks_per_ip) is a flood: redirected, not counted, and not
// counted against the limits either.
//
// Addresses are never kept. Entries are keyed by a keyed hash (XXH3-64 with
// a 192-byte secret drawn from the CSPRNG when the limiter is made, so that
// no one outside can aim collisions) of the address, and of the address and
// the ad.
//
// Bounded: two tables of `capacity` entries of 16 bytes (32 MiB for the
// default 2^20), in stripes with their own locks, open addressing over a
// window of 16 slots; an entry of an older minute is free. When a key finds
// no slot in its window (this minute's keys fill it), the click is admitted
// and the overflow counted: a limit of ours never drops a click, and the
// count (a metric) says the table is too small for the traffic. At 10,000
// clicks/s a minute holds at most 600,000 keys per table.
//
// Thread safety: any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "adclick/click_record.h"
#include "base/mutex.h"

namespace adclick::ingest {

struct flood_options {
  std::uint32_t per_ip_ad = 10;
  std::uint32_t per_ip = 120;
  std::size_t capacity = std::size_t{1} << 20;  // entries per table, >= 64
};

enum class flood_verdict {
  ok,        // within the limits: counted against them
  flood,     // over a limit
  overflow,  // no room to count it: admitted
};

class flood_limiter {
 public:
  explicit flood_limiter(const flood_options& o);
  ~flood_limiter();
  flood_limiter(const flood_limiter&) = delete;
  flood_limiter& operator=(const flood_limiter&) = delete;

  // A click that would be counted, from `client` on `ad_id`, arriving in
  // `minute` (Unix minutes).
  flood_verdict admit(const client_address& client, std::uint64_t ad_id, std::int64_t minute);

  std::uint64_t overflows() const { return overflows_.load(std::memory_order_relaxed); }

 private:
  struct entry {
    std::uint64_t key = 0;  // 0: never used
    std::uint32_t minute = 0;
    std::uint32_t count = 0;
  };
  struct stripe {
    base::mutex mu;
    std::vector<entry> ip_ad GUARDED_BY(mu);
    std::vector<entry> ip GUARDED_BY(mu);
  };
  // The entry of `key` in this minute, made if need be; null when full.
  static entry* find(std::vector<entry>& table, std::uint64_t key, std::uint32_t minute);
  std::uint64_t hash(const client_address& a, std::uint64_t ad_id, bool with_ad) const;

  const flood_options options_;
  std::array<unsigned char, 192> secret_{};
  std::vector<std::unique_ptr<stripe>> stripes_;
  std::atomic<std::uint64_t> overflows_{0};
};

}  // namespace adclick::ingest
