#include "base/duration.h"

#include <catch2/catch.hpp>

#include "base/base_errc.h"

using adclick::base::base_errc;
using adclick::base::format_duration;
using adclick::base::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("parse_duration accepts an integer and one unit", "[base]") {
  const std::pair<std::string_view, std::chrono::milliseconds> cases[] = {
      {"0ms", 0ms},
      {"0s", 0ms},
      {"1500ms", 1500ms},
      {"1s", 1s},
      {"60s", 60s},
      {"5m", 5min},
      {"24h", 24h},
      {"7d", 168h},
      {"05s", 5s},
      {"1000000d", 24000000h},
      {"9223372036854775807ms", std::chrono::milliseconds(INT64_MAX)},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    const auto d = parse_duration(text);
    REQUIRE(d.has_value());
    CHECK(*d == expected);
  }
}

TEST_CASE("parse_duration refuses malformed text", "[base]") {
  const std::string_view cases[] = {
      "",
      "s",
      "10",
      "-1s",
      "+1s",
      " 1s",
      "1s ",
      "1 s",
      "1.5s",
      "1e3ms",
      "1S",
      "1sec",
      "1us",
      "1ns",
      "1w",
      "1y",
      "1h30m",
      "ms",
      "0x10s",
      "1,000s",
      "１s",
      "1ms\n",
      std::string_view("1\0s", 3),
  };
  for (const auto text : cases) {
    INFO('"' << text << '"');
    const auto d = parse_duration(text);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error() == base_errc::invalid_duration);
  }
}

TEST_CASE("parse_duration refuses values that overflow milliseconds", "[base]") {
  const std::string_view cases[] = {
      "9223372036854775808ms",  // INT64_MAX + 1
      "9223372036854776s",      // overflows only once multiplied by 1000
      "106751991168d",          // just past the largest whole day count
      "99999999999999999999999999d",
  };
  for (const auto text : cases) {
    INFO(text);
    const auto d = parse_duration(text);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error() == base_errc::out_of_range);
  }
  CHECK(parse_duration("106751991167d").has_value());
}

TEST_CASE("format_duration uses the largest exact unit", "[base]") {
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(1ms) == "1ms");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(1s) == "1s");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(60s) == "1m");
  CHECK(format_duration(90min) == "90m");
  CHECK(format_duration(1h) == "1h");
  CHECK(format_duration(24h) == "1d");
  CHECK(format_duration(36h) == "36h");
  CHECK(format_duration(-5s) == "-5s");
}

TEST_CASE("format_duration output parses back to the same duration", "[base]") {
  const std::chrono::milliseconds values[] = {
      0ms, 1ms, 999ms, 1001ms, 61s, 3600s, 86400001ms, std::chrono::milliseconds(INT64_MAX)};
  for (const auto d : values) {
    INFO(d.count());
    const auto back = parse_duration(format_duration(d));
    REQUIRE(back.has_value());
    CHECK(*back == d);
  }
}

TEST_CASE("base_errc has a named category and messages", "[base]") {
  const std::error_code ec = base_errc::invalid_duration;
  CHECK(std::string(ec.category().name()) == "adclick.base");
  CHECK(ec.message().find("duration") != std::string::npos);
  CHECK(ec != std::error_code(base_errc::invalid_size));
}
