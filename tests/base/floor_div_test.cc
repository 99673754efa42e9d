#include <catch2/catch.hpp>

#include "base/floor_div.h"

using adclick::base::floor_div;

TEST_CASE("floor_div rounds toward negative infinity", "[base]") {
  CHECK(floor_div(0, 60000) == 0);
  CHECK(floor_div(59999, 60000) == 0);
  CHECK(floor_div(60000, 60000) == 1);
  CHECK(floor_div(-1, 60000) == -1);
  CHECK(floor_div(-60000, 60000) == -1);
  CHECK(floor_div(-60001, 60000) == -2);
  CHECK(floor_div(INT64_MIN, 1000) == INT64_MIN / 1000 - 1 + (INT64_MIN % 1000 == 0 ? 1 : 0));
}
