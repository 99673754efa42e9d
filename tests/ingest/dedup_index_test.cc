#include <xxhash.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "base/event_clock.h"

#include "ingest/dedup_index.h"
#include "state/store.h"
#include "testutil/hold_point.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::ingest;

TEST_CASE("first writer wins across threads", "[ingest]") {
  dedup_index d(static_cast<state::store*>(nullptr), 4);
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

namespace {

// The real committed keys, with a read that can be held: the first read
// after hold() is made, then waits (with its result) until release().
class held_keys final : public committed_keys {
 public:
  explicit held_keys(state::store& s) : real_(s) {}
  result<std::optional<std::int64_t>> expiry(std::uint64_t ad, std::string_view imp) override {
    auto r = real_.expiry(ad, imp);
    point.pass();
    return r;
  }
  std::error_code extend(std::uint64_t ad, std::string_view imp, std::int64_t exp) override {
    return real_.extend(ad, imp, exp);
  }
  void hold() { point.hold(); }
  void wait_held() { point.wait_held(); }
  void release() { point.release(); }

 private:
  store_committed_keys real_;
  testutil::hold_point point;
};

std::unique_ptr<state::store> open_store(const std::string& dir) {
  std::string err;
  auto s = state::store::open(dir, err);
  if (!s) throw std::runtime_error(err);
  return std::move(*s);
}

struct store_fixture {
  testutil::temp_dir dir;
  std::unique_ptr<state::store> store = open_store(dir.path());
  // What a shard's commit of (ad, imp) at `offset` writes.
  void commit_key(std::uint64_t ad, const std::string& imp, std::int64_t exp) {
    state::write_batch b;
    b.put_dedup(ad, imp, exp);
    REQUIRE_FALSE(store->write(b, true));
  }
};

// An impression id whose key falls in the same stripe as (ad, imp) (the
// index has 256 stripes by the key's XXH3).
std::string same_stripe(std::uint64_t ad, const std::string& imp) {
  const std::string k = dedup_key_bytes(ad, imp);
  const auto want = XXH3_64bits(k.data(), k.size()) % 256;
  for (int i = 0;; ++i) {
    const std::string other = "s" + std::to_string(i);
    const std::string ok = dedup_key_bytes(ad, other);
    if (other != imp && XXH3_64bits(ok.data(), ok.size()) % 256 == want) return other;
  }
}

}  // namespace

TEST_CASE("a slow read of the committed keys holds up neither appended() nor committed()", "[ingest]") {
  // Regression: reserve() held its stripe's lock across the RocksDB read, and
  // appended(), which the log's single flusher thread calls for every click,
  // took the same lock: one slow read stalled every click's 302.
  store_fixture f;
  held_keys keys(*f.store);
  dedup_index d(&keys, 2);
  const std::string other = same_stripe(1, "slow");
  REQUIRE(*d.reserve(1, other) == reserve_result::reserved);
  keys.hold();
  auto slow = std::async(std::launch::async, [&] { return d.reserve(1, "slow"); });
  keys.wait_held();  // the read is made and waiting, inside reserve()
  auto flusher = std::async(std::launch::async, [&] {
    d.appended(1, other, 0, 7);
    f.commit_key(1, other, 1'900'000'000);
    d.committed(0, 8);
  });
  CHECK(flusher.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
  keys.release();
  flusher.get();
  auto r = slow.get();
  REQUIRE(r);
  CHECK(*r == reserve_result::reserved);
  CHECK(*d.reserve(1, other) == reserve_result::duplicate);  // through RocksDB now
}

TEST_CASE("a key committed while a reserve read is under way is still a duplicate", "[ingest]") {
  // The read outside the lock must not let a commit slip between the two
  // looks: the reserve reads the committed keys again.
  store_fixture f;
  held_keys keys(*f.store);
  dedup_index d(&keys, 1);
  keys.hold();
  auto first = std::async(std::launch::async, [&] { return d.reserve(3, "imp"); });
  keys.wait_held();  // it read "not committed", and waits with that answer
  // Meanwhile another click of the impression is reserved, appended and
  // committed (the held reader has not yet put its key in the pending set).
  dedup_index* index = &d;
  auto second = std::async(std::launch::async, [&] {
    auto r = index->reserve(3, "imp");
    index->appended(3, "imp", 0, 0);
    f.commit_key(3, "imp", 1'900'000'000);
    index->committed(0, 1);
    return r;
  });
  auto r2 = second.get();
  REQUIRE(r2);
  CHECK(*r2 == reserve_result::reserved);
  keys.release();
  auto r1 = first.get();
  REQUIRE(r1);
  CHECK(*r1 == reserve_result::duplicate);  // exactly one of the two counts
}

TEST_CASE("a re-signed duplicate extends its key's life, pending or committed", "[ingest]") {
  // Regression: the key lived until the first click's expiry only, so the
  // impression re-signed with a later expiry counted again after it.
  store_fixture f;
  dedup_index d(f.store.get(), 1);
  const std::int64_t now_s = base::event_now_ms() / 1000;
  const std::int64_t first_exp = now_s - 10;  // the first link has expired by now
  const std::int64_t later_exp = now_s + 3600;

  SECTION("pending: extended at its shard's commit") {
    REQUIRE(*d.reserve(4, "imp", first_exp) == reserve_result::reserved);
    d.appended(4, "imp", 0, 0);
    CHECK(*d.reserve(4, "imp", later_exp) == reserve_result::duplicate);
    f.commit_key(4, "imp", first_exp);  // what the shard writes: the counted click's expiry
    d.committed(0, 1);
  }
  SECTION("committed: extended at once") {
    REQUIRE(*d.reserve(4, "imp", first_exp) == reserve_result::reserved);
    d.appended(4, "imp", 0, 0);
    f.commit_key(4, "imp", first_exp);
    d.committed(0, 1);
    CHECK(*d.reserve(4, "imp", later_exp) == reserve_result::duplicate);
  }
  CHECK(d.extensions() == 1);
  auto stored = f.store->get_dedup(4, "imp");
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK(**stored == later_exp);
  // The expiry compaction keeps it: its (extended) click is still valid.
  REQUIRE_FALSE(f.store->compact_dedup());
  stored = f.store->get_dedup(4, "imp");
  REQUIRE(stored);
  CHECK(stored->has_value());
  CHECK(*d.reserve(4, "imp", later_exp) == reserve_result::duplicate);
}
