#include <catch2/catch.hpp>

#include "ingest/ad_registry.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::ingest;

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
        "13,adv-3,https://thirteen.example/?a=1,2\r\n";
    const auto rep = import_ads_csv(reg, csv);
    CHECK(rep.imported == 2);
    REQUIRE(rep.errors.size() == 3);
    CHECK_THAT(rep.errors[0], Catch::StartsWith("line 3:"));
    CHECK_THAT(rep.errors[1], Catch::StartsWith("line 4:"));
    CHECK_THAT(rep.errors[2], Catch::StartsWith("line 5:"));
  }
  ad_registry again(**store);
  REQUIRE_FALSE(again.load());
  CHECK(again.size() == 3);
  CHECK(again.find(1)->paused);
  CHECK(again.find(13)->url == "https://thirteen.example/?a=1,2");
  CHECK(again.find(11) == nullptr);
}
