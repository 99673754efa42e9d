#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "state/ads_snapshot.h"
#include "state/store.h"
#include "testutil/file_damage.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::state;
using adclick::testutil::flip_byte;

namespace {

// Ads 5, 8, 11, ...: gaps between ids, and URL lengths from short to the
// longest allowed, so that pages hold from one to dozens of records.
std::vector<ad_record> sample_ads(std::size_t n) {
  std::vector<ad_record> ads;
  for (std::size_t i = 0; i < n; ++i) {
    ad_record a;
    a.ad_id = 5 + 3 * i;
    a.advertiser_id = "adv-" + std::to_string(i % 7);
    a.url = "https://example.com/" + std::string(i % 50 == 0 ? 2000 : i % 90, 'u');
    a.paused = i % 11 == 0;
    a.updated_ms = 1'800'000'000'000 + static_cast<std::int64_t>(i);
    ads.push_back(a);
  }
  return ads;
}

ads_snapshot::ad_source from(const std::vector<ad_record>& ads) {
  return [&ads](const std::function<bool(const ad_record&)>& emit) {
    for (const auto& a : ads) {
      if (!emit(a)) break;
    }
    return std::error_code{};
  };
}

std::unique_ptr<ads_snapshot> open_ok(const std::string& path) {
  std::string why;
  auto s = ads_snapshot::open(path, why);
  INFO(why);
  REQUIRE(s);
  return std::move(*s);
}

}  // namespace

TEST_CASE("the ads snapshot finds every ad it was written with, and no other", "[state]") {
  testutil::temp_dir dir;
  const std::string path = dir / "ads.snap";
  const auto ads = sample_ads(3000);
  std::string why;
  REQUIRE_FALSE(ads_snapshot::write(path, 7, from(ads), why));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(std::filesystem::file_size(path) > 20 * kSnapshotPageBytes);  // many pages
  auto s = open_ok(path);
  CHECK(s->epoch() == 7);
  CHECK(s->ads() == 3000);
  CHECK(s->memory_bytes() > 0);
  for (const auto& a : ads) {
    auto got = s->find(a.ad_id);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK(**got == a);
  }
  for (const std::uint64_t absent : {1ull, 4ull, 6ull, 7ull, 5ull + 3 * 1500 + 1, 5ull + 3 * 3000, 1ull << 62}) {
    INFO(absent);
    auto got = s->find(absent);
    REQUIRE(got);
    CHECK_FALSE(*got);
  }

  const std::vector<ad_record> none;
  REQUIRE_FALSE(ads_snapshot::write(path, 8, from(none), why));
  auto empty = open_ok(path);
  CHECK(empty->ads() == 0);
  auto got = empty->find(5);
  REQUIRE(got);
  CHECK_FALSE(*got);
  // The first file, still open, reads the bytes it opened: a rewrite
  // replaces the file, it does not write into it.
  auto old = s->find(5);
  REQUIRE(old);
  CHECK(*old);
}

TEST_CASE("a damaged ads snapshot is detected: footer, directory, or the page a lookup reads", "[state]") {
  testutil::temp_dir dir;
  const std::string path = dir / "ads.snap";
  const auto ads = sample_ads(400);
  std::string why;
  REQUIRE_FALSE(ads_snapshot::write(path, 1, from(ads), why));
  const auto size = std::filesystem::file_size(path);
  const std::string pristine = dir / "pristine";
  std::filesystem::copy_file(path, pristine);
  auto restore = [&] { std::filesystem::copy_file(pristine, path, std::filesystem::copy_options::overwrite_existing); };

  SECTION("a byte of a page: that page's lookups fail, the others still answer") {
    flip_byte(path, 30);  // inside the first record of the first page
    auto s = open_ok(path);
    auto first = s->find(ads.front().ad_id);
    REQUIRE_FALSE(first);
    CHECK(first.error() == state_errc::corrupt);
    auto last = s->find(ads.back().ad_id);
    REQUIRE(last);
    REQUIRE(*last);
    CHECK(**last == ads.back());
  }
  SECTION("a byte of the directory, of the footer, or a cut file: open refuses") {
    for (const std::uint64_t at : {size - 56 - 10, size - 56 + 3, size - 56 + 20, size - 1}) {
      INFO(at);
      restore();
      flip_byte(path, at);
      auto s = ads_snapshot::open(path, why);
      REQUIRE_FALSE(s);
      CHECK(s.error() == state_errc::corrupt);
      CHECK_THAT(why, Catch::Contains("damaged"));
    }
    restore();
    std::filesystem::resize_file(path, size - 100);
    CHECK(ads_snapshot::open(path, why).error() == state_errc::corrupt);
    std::filesystem::resize_file(path, 10);
    CHECK(ads_snapshot::open(path, why).error() == state_errc::corrupt);
  }
  SECTION("not a snapshot at all, or no file") {
    std::ofstream(path, std::ios::trunc) << std::string(200, 'x');
    CHECK(ads_snapshot::open(path, why).error() == state_errc::corrupt);
    CHECK_THAT(why, Catch::Contains("magic"));
    std::filesystem::remove(path);
    auto s = ads_snapshot::open(path, why);
    REQUIRE_FALSE(s);
    CHECK(s.error() == std::errc::no_such_file_or_directory);
  }
}

TEST_CASE("an ads snapshot is written from ads in id order only, and a failed write leaves no file", "[state]") {
  testutil::temp_dir dir;
  const std::string path = dir / "ads.snap";
  auto ads = sample_ads(10);
  std::swap(ads[3], ads[4]);
  std::string why;
  CHECK(ads_snapshot::write(path, 1, from(ads), why));
  CHECK_THAT(why, Catch::Contains("order"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  const auto failing = [](const std::function<bool(const ad_record&)>&) {
    return std::make_error_code(std::errc::io_error);
  };
  CHECK(ads_snapshot::write(path, 1, failing, why));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(ads_snapshot::write(dir / "no/such/dir/ads.snap", 1, from(sample_ads(3)), why));
}
