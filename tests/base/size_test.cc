#include "base/size.h"

#include <catch2/catch.hpp>

#include "base/base_errc.h"

using adclick::base::base_errc;
using adclick::base::format_size;
using adclick::base::parse_size;

TEST_CASE("parse_size accepts an integer and one binary unit", "[base]") {
  const std::pair<std::string_view, std::uint64_t> cases[] = {
      {"0B", 0},
      {"512B", 512},
      {"1KiB", 1024},
      {"8KiB", 8192},
      {"64MiB", 64ULL << 20},
      {"4GiB", 4ULL << 30},
      {"1TiB", 1ULL << 40},
      {"007KiB", 7168},
      {"18446744073709551615B", UINT64_MAX},
      {"16777215TiB", 16777215ULL << 40},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    const auto n = parse_size(text);
    REQUIRE(n.has_value());
    CHECK(*n == expected);
  }
}

TEST_CASE("parse_size refuses malformed text", "[base]") {
  const std::string_view cases[] = {
      "",    "B",    "64",  "-1B", "+1B", " 1B", "1B ",  "1 MiB", "1.5MiB", "1e3B",   "1MB",
      "1mb", "1mib", "1KB", "1K",  "1M",  "1G",  "1PiB", "1b",    "1MiBB",  "1KiB1B", "0x10B",
  };
  for (const auto text : cases) {
    INFO('"' << text << '"');
    const auto n = parse_size(text);
    REQUIRE_FALSE(n.has_value());
    CHECK(n.error() == base_errc::invalid_size);
  }
}

TEST_CASE("parse_size refuses values that overflow 64 bits", "[base]") {
  const std::string_view cases[] = {
      "18446744073709551616B",  // UINT64_MAX + 1
      "16777216TiB",            // 2^64 bytes
      "18014398509481984KiB",   // 2^64 bytes
      "99999999999999999999999GiB",
  };
  for (const auto text : cases) {
    INFO(text);
    const auto n = parse_size(text);
    REQUIRE_FALSE(n.has_value());
    CHECK(n.error() == base_errc::out_of_range);
  }
}

TEST_CASE("format_size uses the largest exact unit", "[base]") {
  CHECK(format_size(0) == "0B");
  CHECK(format_size(1) == "1B");
  CHECK(format_size(1023) == "1023B");
  CHECK(format_size(1024) == "1KiB");
  CHECK(format_size(1536) == "1536B");
  CHECK(format_size(8192) == "8KiB");
  CHECK(format_size(1536 * 1024) == "1536KiB");
  CHECK(format_size(64ULL << 20) == "64MiB");
  CHECK(format_size(4ULL << 30) == "4GiB");
  CHECK(format_size(3ULL << 40) == "3TiB");
}

TEST_CASE("format_size output parses back to the same size", "[base]") {
  const std::uint64_t values[] = {0, 1, 1025, 1ULL << 20, (1ULL << 40) + 1, UINT64_MAX};
  for (const auto v : values) {
    INFO(v);
    const auto back = parse_size(format_size(v));
    REQUIRE(back.has_value());
    CHECK(*back == v);
  }
}
