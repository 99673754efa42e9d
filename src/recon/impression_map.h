#pragma once
// The impressions a recount remembers, keyed by a 128-bit hash of
// (adId, impressionId).

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "adclick/click_record.h"

namespace adclick::recon {

// (adId, impressionId) as 128 hash bits: a collision between two of the
// at most ~10^10 impressions of a window is about as likely as 10^-18.
struct impression_key {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  friend bool operator==(const impression_key&, const impression_key&) = default;
};

inline impression_key key_of(std::uint64_t ad_id, std::string_view impression_id) {
  std::array<char, 8 + kMaxImpressionIdLength> buf;
  std::memcpy(buf.data(), &ad_id, 8);
  const std::size_t n = std::min(impression_id.size(), kMaxImpressionIdLength);
  std::memcpy(buf.data() + 8, impression_id.data(), n);
  const XXH128_hash_t h = XXH3_128bits(buf.data(), 8 + n);
  // All zeros marks an empty slot of impression_map: a hash of zeros (one
  // in 2^128) is moved next to it.
  if (h.low64 == 0 && h.high64 == 0) return {1, 0};
  return {h.low64, h.high64};
}

// A map from impression keys to V: open addressing with linear probing over
// 128-bit keys (already hashes), backward-shift deletion, no node
// allocations. Far faster than std::unordered_map at tens of millions of
// entries (40 bytes per slot with the recount's V, at 50-87% load). A slot
// whose key is all zeros is empty (key_of never makes that key).
// One thread.
template <class V>
class impression_map {
 public:
  struct slot {
    impression_key key;  // all zeros: empty
    V value;
    bool used() const { return key.lo != 0 || key.hi != 0; }
  };

  impression_map() { slots_.resize(1024); }
  std::size_t size() const { return size_; }

  // The entry for `k`, inserting `v` if absent; second: whether inserted.
  std::pair<V*, bool> try_emplace(const impression_key& k, const V& v) {
    if ((size_ + 1) * 8 > slots_.size() * 7) grow();
    std::size_t i = index(k);
    while (slots_[i].used()) {
      if (slots_[i].key == k) return {&slots_[i].value, false};
      i = (i + 1) & mask();
    }
    slots_[i].key = k;
    slots_[i].value = v;
    ++size_;
    return {&slots_[i].value, true};
  }

  // Starts loading the slot of `k` into the cache (a lookup soon after is
  // then not a full memory round trip).
  void prefetch(const impression_key& k) const { __builtin_prefetch(&slots_[index(k)]); }

  V* find(const impression_key& k) {
    for (std::size_t i = index(k); slots_[i].used(); i = (i + 1) & mask()) {
      if (slots_[i].key == k) return &slots_[i].value;
    }
    return nullptr;
  }

  void erase(const impression_key& k) {
    std::size_t i = index(k);
    while (slots_[i].used() && !(slots_[i].key == k)) i = (i + 1) & mask();
    if (!slots_[i].used()) return;
    // Backward shift: move later entries of the run into the hole when
    // their home is at or before it.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask(); slots_[j].used(); j = (j + 1) & mask()) {
      const std::size_t home = index(slots_[j].key);
      if (((j - home) & mask()) >= ((j - hole) & mask())) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].key = {};
    --size_;
  }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t index(const impression_key& k) const { return static_cast<std::size_t>(k.lo) & mask(); }
  void grow() {
    std::vector<slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (const auto& s : old) {
      if (s.used()) try_emplace(s.key, s.value);
    }
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace adclick::recon
