#include <catch2/catch.hpp>

#include "base/rfc3339.h"

using namespace adclick::base;

TEST_CASE("times: RFC 3339 with offsets and fractions, or Unix seconds", "[base]") {
  CHECK(parse_time("1800000000") == 1800000000);
  CHECK(parse_time("2027-01-15T08:00:00Z") == 1800000000);
  CHECK(parse_time("2027-01-15T08:00:00.999Z") == 1800000000);
  CHECK(parse_time("2027-01-15T09:30:00+01:30") == 1800000000);
  CHECK(parse_time("2027-01-15T07:00:00-01:00") == 1800000000);
  CHECK(parse_time("2024-02-29T00:00:00Z").has_value());
  for (const char* bad : {"", "-5", "2027-01-15", "2027-01-15T08:00:00", "2027-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2027-01-15T24:00:00Z", "2027-01-15T08:00:00+2",
                          "2027-01-15 08:00:00Z", "1e9", "99999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad).has_value());
  }
  CHECK(format_time(1800000000) == "2027-01-15T08:00:00Z");
  CHECK(format_time_ms(1800000000250) == "2027-01-15T08:00:00.250Z");
  CHECK(format_time_ms(-1) == "1969-12-31T23:59:59.999Z");
}
