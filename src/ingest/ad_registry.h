#pragma once
// The ad registry: every ad in memory, over the RocksDB `ads` family. The
// click path reads it; the admin API and the bulk loader write it.

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adclick/result.h"
#include "state/state_format.h"

namespace adclick::state {
class store;
}

namespace adclick::ingest {

enum class registry_errc {
  invalid_url = 1,
  invalid_advertiser,
  invalid_ad_id,
  not_found,
};
const std::error_category& registry_category() noexcept;
inline std::error_code make_error_code(registry_errc e) noexcept {
  return {static_cast<int>(e), registry_category()};
}

// Checks a redirect target: absolute http or https URL with a host, at most
// 2048 bytes, printable ASCII only (no whitespace, no control characters, no
// raw non-ASCII: percent-encode it), no user info. False with the reason.
[[nodiscard]] bool valid_ad_url(std::string_view url, std::string& why);
// Advertiser ids: 1..64 of [A-Za-z0-9._-].
[[nodiscard]] bool valid_advertiser_id(std::string_view id);
// adId in [1, 2^63).
[[nodiscard]] bool valid_ad_id(std::uint64_t id);

// Thread safety: find() from any thread at any time; writes serialise on an
// internal mutex and reach RocksDB (synced) before the cache.
class ad_registry {
 public:
  explicit ad_registry(state::store& store);

  // Loads every ad from RocksDB. Call once before serving.
  [[nodiscard]] std::error_code load();

  // The ad, or null if unknown. Paused ads are returned (with paused = true).
  std::shared_ptr<const state::ad_record> find(std::uint64_t ad_id) const;

  // Creates or replaces an ad (active). `created` says which.
  [[nodiscard]] result<state::ad_record> put(std::uint64_t ad_id, std::string_view advertiser_id,
                                             std::string_view url, bool& created,
                                             std::string& why);
  // Pauses an ad: its clicks get 404 from now on, its history stays.
  [[nodiscard]] result<state::ad_record> pause(std::uint64_t ad_id);

  std::size_t size() const;

 private:
  state::store& store_;
  mutable std::shared_mutex mu_;
  // guarded by mu_
  std::unordered_map<std::uint64_t, std::shared_ptr<const state::ad_record>> ads_;
  std::mutex write_mu_;  // one writer at a time, RocksDB then cache
};

// Bulk load of a CSV file `adId,advertiserId,url` (header line optional).
struct import_report {
  std::size_t imported = 0;
  std::vector<std::string> errors;  // "line N: reason"
};
import_report import_ads_csv(ad_registry& registry, std::string_view csv_text);

}  // namespace adclick::ingest

template <>
struct std::is_error_code_enum<adclick::ingest::registry_errc> : std::true_type {};
