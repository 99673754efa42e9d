#include <catch2/catch.hpp>
#include <atomic>
#include <thread>

#include "ingest/dedup_index.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::ingest;

TEST_CASE("first writer wins across threads", "[ingest]") {
  dedup_index d(nullptr, 4);
  for (int round = 0; round < 50; ++round) {
    const std::string imp = "imp-" + std::to_string(round);
    // Catch2's assertions are not thread-safe: the threads only count.
    std::atomic<int> reserved{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t) {
      ts.emplace_back([&] {
        auto r = d.reserve(1, imp);
        if (!r) {
          ++errors;
        } else if (*r == reserve_result::reserved) {
          ++reserved;
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(errors == 0);
    CHECK(reserved == 1);
  }
}

TEST_CASE("a withdrawn key can be reserved again, and a committed one lives in RocksDB", "[ingest]") {
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  dedup_index d(store->get(), 2);
  REQUIRE(*d.reserve(5, "a") == reserve_result::reserved);
  CHECK(*d.reserve(5, "a") == reserve_result::duplicate);
  CHECK(*d.reserve(6, "a") == reserve_result::reserved);  // another ad: another key
  d.withdraw(5, "a");
  CHECK(*d.reserve(5, "a") == reserve_result::reserved);
  d.appended(5, "a", 1, 10);
  CHECK(d.pending() == 2);
  // The shard commits the key with its offsets, then tells the index.
  state::write_batch b;
  b.put_dedup(5, "a", 1'900'000'000);
  b.put_offset(1, 11);
  REQUIRE_FALSE((*store)->write(b, true));
  d.committed(1, 10);  // not yet past offset 10
  CHECK(d.pending() == 2);
  d.committed(1, 11);
  CHECK(d.pending() == 1);
  // Gone from the pending set, still a duplicate through RocksDB.
  CHECK(*d.reserve(5, "a") == reserve_result::duplicate);
  d.committed(0, 100);  // another partition: nothing of ours
  CHECK(d.pending() == 1);
}
