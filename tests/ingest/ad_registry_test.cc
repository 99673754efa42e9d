#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "ingest/ad_registry.h"
#include "state/ads_snapshot.h"
#include "state/store.h"
#include "testutil/file_damage.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::ingest;
using adclick::testutil::flip_byte;

TEST_CASE("ad URLs are validated", "[ingest]") {
  std::string why;
  for (const char* good : {"https://example.com", "http://example.com/a?b=c#d", "HTTPS://EXAMPLE.COM/",
                           "https://sub.example.co.uk:8443/p", "http://[2001:db8::1]:8080/x",
                           "https://example.com/%E2%82%AC"}) {
    INFO(good);
    CHECK(valid_ad_url(good, why));
  }
  for (const char* bad : {"", "javascript:alert(1)", "data:text/html,x", "ftp://example.com/",
                          "/relative", "//example.com/x", "example.com", "https://", "https:///x",
                          "https://exa mple.com/", "https://example.com/\r\nX: y", "https://example.com/\t",
                          "https://user:pw@example.com/", "https://exa_mple.com/", "https://example.com:99999/",
                          "https://example.com:/", "https://[zz]/", "https://example.com/\xe2\x82\xac"}) {
    INFO(bad);
    CHECK_FALSE(valid_ad_url(bad, why));
    CHECK_FALSE(why.empty());
  }
  CHECK_FALSE(valid_ad_url("https://example.com/" + std::string(2030, 'a'), why));
}

TEST_CASE("registry put, pause, reload, and the CSV import", "[ingest]") {
  testutil::temp_dir dir;
  std::string err;
  auto store = state::store::open(dir.path(), err);
  REQUIRE(store);
  {
    ad_registry reg(**store);
    REQUIRE_FALSE(reg.load());
    bool created = false;
    std::string why;
    REQUIRE(reg.put(1, "adv-1", "https://a.example/", created, why));
    CHECK(created);
    REQUIRE(reg.put(1, "adv-1", "https://b.example/", created, why));
    CHECK_FALSE(created);
    CHECK(reg.find(1)->url == "https://b.example/");
    CHECK(reg.pause(1));
    CHECK(reg.find(1)->paused);
    CHECK(reg.pause(2).error() == registry_errc::not_found);
    CHECK_FALSE(reg.put(2, "bad adv", "https://a.example/", created, why));
    CHECK_FALSE(reg.put(0, "adv", "https://a.example/", created, why));

    const std::string csv =
        "adId,advertiserId,url\n"
        "10,adv-1,https://ten.example/\n"
        "11,adv-2,javascript:x\n"
        "abc,adv-1,https://x.example/\n"
        "12,adv-2\n"
        "\n"
        "13,adv-3,https://thirteen.example/?a=1,2\r\n"
        "014,adv-3,https://fourteen.example/\n";  // the one adId rule: no leading zeros
    const auto rep = import_ads_csv(reg, csv);
    CHECK(rep.imported == 2);
    REQUIRE(rep.errors.size() == 4);
    CHECK_THAT(rep.errors[0], Catch::StartsWith("line 3:"));
    CHECK_THAT(rep.errors[1], Catch::StartsWith("line 4:"));
    CHECK_THAT(rep.errors[2], Catch::StartsWith("line 5:"));
    CHECK(rep.errors[3] == "line 8: adId must be a decimal integer in [1, 2^63)");
    CHECK_FALSE(reg.find(14));
  }
  ad_registry again(**store);
  REQUIRE_FALSE(again.load());
  CHECK(again.size() == 3);
  CHECK(again.find(1)->paused);
  CHECK(again.find(13)->url == "https://thirteen.example/?a=1,2");
  CHECK(again.find(11) == nullptr);
}

namespace {

std::vector<ad_row> rows(std::uint64_t first, std::uint64_t n, const std::string& tag) {
  std::vector<ad_row> out;
  for (std::uint64_t id = first; id < first + n; ++id) {
    out.push_back({id, "adv-" + std::to_string(id % 5), "https://" + tag + ".example/" + std::to_string(id)});
  }
  return out;
}

// A store in dir/state with ads 1..n (URLs https://<tag>.example/<id>) and
// their snapshot written.
std::unique_ptr<state::store> store_with_snapshot(const testutil::temp_dir& dir, std::uint64_t n,
                                                  const std::string& tag) {
  std::string err, why;
  auto store = state::store::open(dir / "state", err);
  REQUIRE(store);
  ad_registry reg(**store, 1 << 20, state::ads_snapshot_path(dir.path()));
  REQUIRE_FALSE(reg.load());
  REQUIRE(reg.snapshot_ads() == 0);  // none written yet
  REQUIRE_FALSE(reg.put_batch(rows(1, n, tag)));
  REQUIRE_FALSE(reg.write_snapshot(why));
  return std::move(*store);
}

}  // namespace

TEST_CASE(
    "the ads snapshot answers cache misses, and ads changed after it are read from RocksDB after a restart",
    "[ingest]") {
  testutil::temp_dir dir;
  std::string why;
  auto store = store_with_snapshot(dir, 500, "old");
  const std::string snap = state::ads_snapshot_path(dir.path());
  {
    ad_registry reg(*store, 1 << 20, snap);
    REQUIRE_FALSE(reg.load());
    CHECK(reg.snapshot_ads() == 500);
    CHECK(reg.snapshot_bytes() > 0);
    CHECK(reg.cache().capacity_bytes() == (1u << 20) - reg.snapshot_bytes());
    CHECK(reg.find(42)->url == "https://old.example/42");
    CHECK(reg.find(999) == nullptr);  // the snapshot knows there is no such ad
    CHECK(reg.snapshot_reads() == 2);
    bool created = false;
    REQUIRE(reg.put(42, "adv-9", "https://new.example/42", created, why));
    REQUIRE(reg.pause(43));
    REQUIRE(reg.put(999, "adv-9", "https://new.example/999", created, why));
    CHECK(created);
    REQUIRE_FALSE(reg.put_batch(rows(100, 3, "batch")));
  }
  // A restart: the changes are still read from RocksDB, the rest from the snapshot.
  ad_registry reg(*store, 1 << 20, snap);
  REQUIRE_FALSE(reg.load());
  REQUIRE(reg.snapshot_ads() == 500);
  CHECK(reg.find(42)->url == "https://new.example/42");
  CHECK(reg.find(43)->paused);
  CHECK(reg.find(999)->url == "https://new.example/999");
  CHECK(reg.find(101)->url == "https://batch.example/101");
  CHECK(reg.snapshot_reads() == 0);
  CHECK(reg.find(44)->url == "https://old.example/44");
  CHECK_FALSE(reg.find(45)->paused);
  CHECK(reg.snapshot_reads() == 2);
  CHECK(reg.size() == 501);

  // A new snapshot takes the changes in, and drops their marks.
  REQUIRE_FALSE(reg.write_snapshot(why));
  ad_registry after(*store, 1 << 20, snap);
  REQUIRE_FALSE(after.load());
  CHECK(after.snapshot_ads() == 501);
  CHECK(after.find(42)->url == "https://new.example/42");
  CHECK(after.find(43)->paused);
  CHECK(after.snapshot_reads() == 2);
}

TEST_CASE("a stale, damaged or overrun ads snapshot is set aside, and answers stay right", "[ingest]") {
  testutil::temp_dir dir;
  std::string why;
  auto store = store_with_snapshot(dir, 300, "v1");
  const std::string snap = state::ads_snapshot_path(dir.path());

  SECTION("a file of another epoch (a crash between writing it and recording it)") {
    // As if an import had written a newer file and died before its epoch
    // reached RocksDB, while the ads in RocksDB are still v1.
    const std::vector<state::ad_record> wrong = {{7, "adv-x", "https://stale.example/", false, 1}};
    REQUIRE_FALSE(state::ads_snapshot::write(
        snap, 2,
        [&](const std::function<bool(const state::ad_record&)>& emit) {
          for (const auto& a : wrong) emit(a);
          return std::error_code{};
        },
        why));
    ad_registry reg(*store, 1 << 20, snap);
    REQUIRE_FALSE(reg.load());
    CHECK(reg.snapshot_ads() == 0);
    CHECK(reg.find(7)->url == "https://v1.example/7");
    CHECK(reg.snapshot_reads() == 0);
  }
  SECTION("a damaged page: that lookup is answered from RocksDB and counted") {
    flip_byte(snap, 30);  // the first page, which holds ad 1
    ad_registry reg(*store, 1 << 20, snap);
    REQUIRE_FALSE(reg.load());
    REQUIRE(reg.snapshot_ads() == 300);
    CHECK(reg.find(1)->url == "https://v1.example/1");
    CHECK(reg.snapshot_errors() == 1);
    CHECK(reg.find(300)->url == "https://v1.example/300");
    CHECK(reg.snapshot_errors() == 1);
  }
  SECTION("a damaged directory, or no file: not used") {
    SECTION("damaged") { flip_byte(snap, std::filesystem::file_size(snap) - 60); }
    SECTION("gone") { std::filesystem::remove(snap); }
    ad_registry reg(*store, 1 << 20, snap);
    REQUIRE_FALSE(reg.load());
    CHECK(reg.snapshot_ads() == 0);
    CHECK(reg.snapshot_bytes() == 0);
    CHECK(reg.cache().capacity_bytes() == 1u << 20);
    CHECK(reg.find(5)->url == "https://v1.example/5");
  }
  SECTION("more changed ads than the budget allows: set aside while serving and after a restart") {
    // 1 MiB of cache allows 1 MiB / 8 / 48 = 2730 changed ids.
    {
      ad_registry reg(*store, 1 << 20, snap);
      REQUIRE_FALSE(reg.load());
      REQUIRE(reg.snapshot_ads() == 300);
      REQUIRE_FALSE(reg.put_batch(rows(1, 3000, "v2")));
      CHECK(reg.snapshot_ads() == 0);
      CHECK(reg.find(7)->url == "https://v2.example/7");
    }
    ad_registry reg(*store, 1 << 20, snap);
    REQUIRE_FALSE(reg.load());
    CHECK(reg.snapshot_ads() == 0);
    CHECK(reg.find(8)->url == "https://v2.example/8");
    CHECK(reg.find(2999)->url == "https://v2.example/2999");
    REQUIRE_FALSE(reg.write_snapshot(why));
    ad_registry again(*store, 1 << 20, snap);
    REQUIRE_FALSE(again.load());
    CHECK(again.snapshot_ads() == 3000);
    CHECK(again.find(9)->url == "https://v2.example/9");
    CHECK(again.snapshot_reads() == 1);
  }
}
