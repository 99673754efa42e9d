// The recount's impression map against std::unordered_map, through growth
// and backward-shift deletions.

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <unordered_map>

#include "recon/impression_map.h"

using namespace adclick::recon;

namespace {

struct key_hash {
  std::size_t operator()(const impression_key& k) const { return static_cast<std::size_t>(k.lo ^ (k.hi * 31)); }
};

}  // namespace

TEST_CASE("impression map: inserts, finds and erases like a std::unordered_map", "[recon]") {
  impression_map<std::uint64_t> map;
  std::unordered_map<impression_key, std::uint64_t, key_hash> model;
  std::mt19937_64 rng(GENERATE(1u, 2u, 3u));
  // Few distinct keys so that the same ones come back, collide and are
  // erased from the middle of runs.
  const std::uint64_t distinct = GENERATE(50u, 5000u);
  for (int step = 0; step < 60'000; ++step) {
    const std::uint64_t id = rng() % distinct;
    const impression_key k = key_of(id % 7 + 1, "imp-" + std::to_string(id));
    switch (rng() % 3) {
      case 0: {
        const auto [value, inserted] = map.try_emplace(k, id);
        const bool model_inserted = model.try_emplace(k, id).second;
        REQUIRE(inserted == model_inserted);
        REQUIRE(*value == model.at(k));
        break;
      }
      case 1: {
        const auto* found = map.find(k);
        const auto it = model.find(k);
        REQUIRE((found != nullptr) == (it != model.end()));
        if (found != nullptr) REQUIRE(*found == it->second);
        break;
      }
      default:
        map.erase(k);
        model.erase(k);
    }
    REQUIRE(map.size() == model.size());
  }
  // Every key the model holds is still found after all the shifting.
  for (const auto& [k, v] : model) {
    const auto* found = map.find(k);
    REQUIRE(found != nullptr);
    CHECK(*found == v);
  }
}

TEST_CASE("impression map: keys differ by ad and by impression", "[recon]") {
  CHECK(!(key_of(1, "a") == key_of(2, "a")));
  CHECK(!(key_of(1, "a") == key_of(1, "b")));
  CHECK(key_of(1, "a") == key_of(1, "a"));
}
