#include "ingest/flood_limiter.h"

#include <openssl/rand.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace adclick::ingest {
namespace {

constexpr std::size_t kMaxStripes = 64;
constexpr std::size_t kWindow = 16;

}  // namespace

flood_limiter::flood_limiter(const flood_options& o) : options_(o) {
  static_assert(sizeof(secret_) >= XXH3_SECRET_SIZE_MIN);
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("flood limiter: the CSPRNG gave no secret");
  }
  const std::size_t capacity = std::max<std::size_t>(o.capacity, 64);
  const std::size_t stripes = std::clamp<std::size_t>(capacity / 1024, 1, kMaxStripes);
  const std::size_t per_stripe = std::max(capacity / stripes, kWindow);
  for (std::size_t i = 0; i < stripes; ++i) {
    auto s = std::make_unique<stripe>();
    base::mutex_lock lock(s->mu);
    s->ip_ad.resize(per_stripe);
    s->ip.resize(per_stripe);
    lock.unlock();
    stripes_.push_back(std::move(s));
  }
}

flood_limiter::~flood_limiter() = default;

std::uint64_t flood_limiter::hash(const client_address& a, std::uint64_t ad_id,
                                  bool with_ad) const {
  unsigned char buf[1 + 16 + 8];
  buf[0] = a.family;
  std::memcpy(buf + 1, a.bytes.data(), 16);
  std::memcpy(buf + 17, &ad_id, sizeof ad_id);
  const std::uint64_t h =
      XXH3_64bits_withSecret(buf, with_ad ? sizeof buf : 17, secret_.data(), secret_.size());
  return h == 0 ? 1 : h;
}

flood_limiter::entry* flood_limiter::find(std::vector<entry>& table, std::uint64_t key,
                                          std::uint32_t minute) {
  const std::size_t n = table.size();
  const std::size_t start = (key >> 8) % n;
  entry* free_slot = nullptr;
  for (std::size_t i = 0; i < kWindow; ++i) {
    entry& e = table[(start + i) % n];
    if (e.key == key) {
      if (e.minute != minute) e = entry{key, minute, 0};
      return &e;
    }
    if (free_slot == nullptr && (e.key == 0 || e.minute != minute)) free_slot = &e;
  }
  if (free_slot != nullptr) *free_slot = entry{key, minute, 0};
  return free_slot;
}

flood_verdict flood_limiter::admit(const client_address& client, std::uint64_t ad_id,
                                   std::int64_t minute) {
  const std::uint64_t per_ad = hash(client, ad_id, true);
  const std::uint64_t per_ip = hash(client, 0, false);
  const auto m = static_cast<std::uint32_t>(minute);
  // One stripe for both keys (chosen by the address), so that the two
  // counts move together under one lock.
  stripe& s = *stripes_[per_ip % stripes_.size()];
  base::mutex_lock lock(s.mu);
  entry* a = find(s.ip_ad, per_ad, m);
  entry* b = find(s.ip, per_ip, m);
  if (a == nullptr || b == nullptr) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return flood_verdict::overflow;
  }
  if (a->count >= options_.per_ip_ad || b->count >= options_.per_ip) return flood_verdict::flood;
  ++a->count;
  ++b->count;
  return flood_verdict::ok;
}

}  // namespace adclick::ingest
