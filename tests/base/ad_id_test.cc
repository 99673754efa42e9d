#include <catch2/catch.hpp>

#include "base/ad_id.h"
#include "base/query_string.h"

using namespace adclick::base;

TEST_CASE("parse_ad_id: one rule, a decimal integer from 1 to 2^63 - 1 without leading zeros", "[base]") {
  CHECK(parse_ad_id("1") == 1u);
  CHECK(parse_ad_id("9223372036854775807") == 9223372036854775807u);
  for (const char* bad : {"", "0", "007", "+7", "-7", " 7", "7 ", "7a", "0x7", "9223372036854775808",
                          "18446744073709551616"}) {
    INFO(bad);
    CHECK_FALSE(parse_ad_id(bad).has_value());
  }
}

TEST_CASE("query strings: pairs in order, the first of a name wins, no decoding", "[base]") {
  CHECK(query_param("a=1&b=2&a=3", "a") == "1");
  CHECK(query_param("a=1&b", "b") == "");
  CHECK(query_param("a=1&&b=%20", "b") == "%20");
  CHECK_FALSE(query_param("ab=1", "a").has_value());
  int seen = 0;
  CHECK_FALSE(for_each_query_param("x=1&y=2&z=3", [&](std::string_view n, std::string_view) {
    ++seen;
    return n != "y";
  }));
  CHECK(seen == 2);
}
