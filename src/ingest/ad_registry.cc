#include "ingest/ad_registry.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/ad_id.h"
#include "base/mutex.h"
#include "base/wall_time.h"
#include "state/ads_snapshot.h"
#include "state/store.h"

namespace adclick::ingest {
namespace {

// What one changed id costs in memory: a hash set node and its bucket.
constexpr std::uint64_t kChangedIdBytes = 48;
}  // namespace

ad_registry::ad_registry(state::store& store, std::uint64_t cache_bytes, std::string snapshot_path)
    : store_(store), cache_(cache_bytes), snapshot_path_(std::move(snapshot_path)) {}

ad_registry::~ad_registry() = default;

std::error_code ad_registry::load() {
  if (auto ec = load_count()) return ec;
  if (snapshot_path_.empty()) return {};
  auto epoch = store_.get_ads_snapshot_epoch();
  if (!epoch) return epoch.error();
  if (!*epoch) return {};  // no snapshot written yet
  std::string why;
  auto snap = state::ads_snapshot::open(snapshot_path_, why);
  if (!snap) {
    spdlog::warn("ads: snapshot not used ({}); ads the cache misses are read from RocksDB until "
                 "`adclick ads import` writes a new one",
                 why);
    return {};
  }
  if ((*snap)->epoch() != **epoch) {
    // A crash between writing the file and recording it, say.
    spdlog::warn("ads: snapshot {} is of epoch {}, the store expects {}: not used until "
                 "`adclick ads import` writes a new one",
                 snapshot_path_, (*snap)->epoch(), **epoch);
    return {};
  }
  // The directory and the changed ids come out of the cache's budget; a
  // snapshot whose directory would take more than half of it is not used.
  const std::uint64_t budget = cache_.capacity_bytes();
  const std::uint64_t dir_bytes = (*snap)->memory_bytes();
  if (dir_bytes > budget / 2) {
    spdlog::warn("ads: snapshot directory ({} bytes) exceeds half of ingest.ad_cache: not used",
                 dir_bytes);
    return {};
  }
  max_changed_ = std::max<std::uint64_t>(1024, budget / 8 / kChangedIdBytes);
  std::unordered_set<std::uint64_t> changed;
  bool too_many = false;
  if (auto ec = store_.for_each_changed_ad([&](std::uint64_t id) {
        changed.insert(id);
        too_many = changed.size() > max_changed_;
        return !too_many;
      })) {
    return ec;
  }
  if (too_many) {
    spdlog::warn("ads: more than {} ads changed since the snapshot was written: not used until "
                 "`adclick ads import` writes a new one",
                 max_changed_);
    return {};
  }
  snapshot_bytes_ = dir_bytes + max_changed_ * kChangedIdBytes;
  cache_.set_capacity(budget > snapshot_bytes_ ? budget - snapshot_bytes_ : 0);
  snapshot_ = std::move(*snap);
  base::writer_lock lock(changed_mu_);
  changed_ = std::move(changed);
  snapshot_on_ = true;
  spdlog::info("ads: snapshot of {} ads in use ({} changed since), {} KiB of the ad cache's budget",
               snapshot_->ads(), changed_.size(), snapshot_bytes_ >> 10);
  return {};
}

std::uint64_t ad_registry::snapshot_ads() const {
  base::reader_lock lock(changed_mu_);
  return snapshot_on_ ? snapshot_->ads() : 0;
}

std::error_code ad_registry::write_snapshot(std::string& why) {
  if (snapshot_path_.empty()) {
    why = "no snapshot path";
    return std::make_error_code(std::errc::invalid_argument);
  }
  base::mutex_lock w(write_mu_);
  auto epoch = store_.get_ads_snapshot_epoch();
  if (!epoch) {
    why = "cannot read the snapshot epoch: " + epoch.error().message();
    return epoch.error();
  }
  const std::uint64_t next = epoch->value_or(0) + 1;
  if (auto ec = state::ads_snapshot::write(
          snapshot_path_, next,
          [this](const std::function<bool(const state::ad_record&)>& emit) {
            return store_.for_each_ad(emit);
          },
          why)) {
    return ec;
  }
  // The file is durable; from this synced write on it answers. A crash
  // before it leaves the store's old epoch: the new file is then not used.
  state::write_batch b;
  b.set_ads_snapshot(next);
  if (auto ec = store_.write(b, true)) {
    why = "cannot record the snapshot: " + ec.message();
    return ec;
  }
  return {};
}

template <class Ids>
void ad_registry::mark_changed(const Ids& ids) {
  base::writer_lock lock(changed_mu_);
  if (!snapshot_on_) return;
  for (const auto& id : ids) changed_.insert(id);
  if (changed_.size() <= max_changed_) return;
  snapshot_on_ = false;
  changed_ = {};
  spdlog::warn("ads: more than {} ads changed since the snapshot was written: ads the cache misses "
               "are read from RocksDB until `adclick ads import` writes a new one",
               max_changed_);
}

std::error_code ad_registry::load_count() {
  auto stored = store_.get_ads_count();
  if (!stored) return stored.error();
  if (*stored) {
    count_.store(**stored, std::memory_order_relaxed);
    return {};
  }
  // A data dir from before the count was kept: count once, and keep it.
  std::uint64_t n = 0;
  if (auto ec = store_.for_each_ad([&](const state::ad_record&) {
        ++n;
        return true;
      })) {
    return ec;
  }
  base::mutex_lock w(write_mu_);
  state::write_batch b;
  b.put_ads_count(n);
  if (auto ec = store_.write(b, true)) return ec;
  count_.store(n, std::memory_order_relaxed);
  return {};
}

result<std::shared_ptr<const state::ad_record>> ad_registry::read(std::uint64_t ad_id) const {
  auto got = store_.get_ad(ad_id);
  if (!got) return got.error();
  if (!*got) return std::shared_ptr<const state::ad_record>();
  return std::make_shared<const state::ad_record>(std::move(**got));
}

result<std::shared_ptr<const state::ad_record>> ad_registry::lookup(std::uint64_t ad_id) const {
  bool use_snapshot = false;
  {
    base::reader_lock lock(changed_mu_);
    use_snapshot = snapshot_on_ && changed_.count(ad_id) == 0;
  }
  if (use_snapshot) {
    snapshot_reads_.fetch_add(1, std::memory_order_relaxed);
    auto got = snapshot_->find(ad_id);
    if (got) {
      if (!*got) return std::shared_ptr<const state::ad_record>();
      return std::make_shared<const state::ad_record>(std::move(**got));
    }
    // RocksDB holds the truth: answer from it, and say the copy is bad.
    const auto n = snapshot_errors_.fetch_add(1, std::memory_order_relaxed);
    if (n < 10 || n % 10000 == 0) {
      spdlog::error("ads: snapshot {}: the page of ad {} cannot be used ({}); read from RocksDB "
                    "instead ({} such reads so far); `adclick ads import` writes a new snapshot",
                    snapshot_path_, ad_id, got.error().message(), n + 1);
    }
  }
  return read(ad_id);
}

result<std::vector<state::ad_record>> ad_registry::list(std::string_view advertiser_id, std::uint64_t after,
                                                       std::size_t limit) const {
  return store_.list_ads(advertiser_id, after, limit);
}

std::shared_ptr<const state::ad_record> ad_registry::find(std::uint64_t ad_id) const {
  std::uint64_t stamp = 0;
  if (auto hit = cache_.get(ad_id, &stamp)) return *hit;
  auto got = lookup(ad_id);
  if (!got) {
    spdlog::error("ads: cannot read ad {}: {}", ad_id, got.error().message());
    return nullptr;  // not cached: the next lookup tries again
  }
  cache_.fill(ad_id, *got, stamp);
  return *got;
}

result<state::ad_record> ad_registry::put(std::uint64_t ad_id, std::string_view advertiser_id,
                                          std::string_view url, bool& created, std::string& why) {
  if (const auto e = validate_ad(ad_id, advertiser_id, url, why); e != registry_errc{}) return e;
  base::mutex_lock w(write_mu_);
  auto prev = read(ad_id);
  if (!prev) return prev.error();
  created = *prev == nullptr;
  state::ad_record ad{ad_id, std::string(advertiser_id), std::string(url), false, base::wall_now_ms()};
  state::write_batch b;
  b.put_ad(ad, *prev ? std::optional<state::ad_record>(**prev) : std::nullopt);
  const std::uint64_t count = count_.load(std::memory_order_relaxed) + (created ? 1 : 0);
  if (created) b.put_ads_count(count);
  if (auto ec = store_.write(b, true)) return ec;
  count_.store(count, std::memory_order_relaxed);
  mark_changed(std::initializer_list<std::uint64_t>{ad_id});
  cache_.put(ad_id, std::make_shared<const state::ad_record>(ad));
  return ad;
}

result<state::ad_record> ad_registry::pause(std::uint64_t ad_id) {
  base::mutex_lock w(write_mu_);
  auto prev = read(ad_id);
  if (!prev) return prev.error();
  if (!*prev) return registry_errc::not_found;
  state::ad_record ad = **prev;
  ad.paused = true;
  ad.updated_ms = base::wall_now_ms();
  state::write_batch b;
  b.put_ad(ad, **prev);
  if (auto ec = store_.write(b, true)) return ec;
  mark_changed(std::initializer_list<std::uint64_t>{ad_id});
  cache_.put(ad_id, std::make_shared<const state::ad_record>(ad));
  return ad;
}

std::error_code ad_registry::put_batch(const std::vector<ad_row>& rows) {
  if (rows.empty()) return {};
  base::mutex_lock w(write_mu_);
  // Each id's record before this batch, or as an earlier row of it left it.
  std::unordered_map<std::uint64_t, std::optional<state::ad_record>> latest;
  std::uint64_t count = count_.load(std::memory_order_relaxed);
  state::write_batch b;
  const std::int64_t now = base::wall_now_ms();
  for (const auto& row : rows) {
    auto it = latest.find(row.ad_id);
    if (it == latest.end()) {
      auto prev = store_.get_ad(row.ad_id);
      if (!prev) return prev.error();
      it = latest.emplace(row.ad_id, std::move(*prev)).first;
    }
    if (!it->second) ++count;
    state::ad_record ad{row.ad_id, row.advertiser_id, row.url, false, now};
    b.put_ad(ad, it->second);
    it->second = std::move(ad);
  }
  b.put_ads_count(count);
  if (auto ec = store_.write(b, true)) return ec;
  count_.store(count, std::memory_order_relaxed);
  {
    std::vector<std::uint64_t> ids;
    ids.reserve(latest.size());
    for (const auto& entry : latest) ids.push_back(entry.first);
    mark_changed(ids);
  }
  for (const auto& [id, ad] : latest) cache_.erase(id);
  return {};
}

}  // namespace adclick::ingest
