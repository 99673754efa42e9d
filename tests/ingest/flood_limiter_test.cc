// The flood limits: per address and ad, per address over all ads, per
// minute; bounded memory that admits when full; exact under threads.

#include "ingest/flood_limiter.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "ingest/client_origin.h"

using namespace adclick;
using namespace adclick::ingest;

namespace {

client_address ip(const char* text) {
  return *parse_address(text);
}

client_address nth_ip(std::uint32_t i) {
  client_address a;
  a.family = 4;
  a.bytes[0] = 10;
  a.bytes[1] = static_cast<std::uint8_t>(i >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(i >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(i);
  return a;
}

}  // namespace

TEST_CASE(
    "flood: the 11th click from one address on one ad in a minute is a flood, the 10 before count",
    "[ingest]") {
  flood_limiter f({});
  const auto a = ip("198.51.100.7");
  for (int i = 0; i < 10; ++i) CHECK(f.admit(a, 42, 1000) == flood_verdict::ok);
  CHECK(f.admit(a, 42, 1000) == flood_verdict::flood);
  CHECK(f.admit(a, 42, 1000) == flood_verdict::flood);
  // Another ad, another address, the next minute: their own counts.
  CHECK(f.admit(a, 43, 1000) == flood_verdict::ok);
  CHECK(f.admit(ip("198.51.100.8"), 42, 1000) == flood_verdict::ok);
  CHECK(f.admit(ip("2001:db8::7"), 42, 1000) == flood_verdict::ok);
  for (int i = 0; i < 10; ++i) CHECK(f.admit(a, 42, 1001) == flood_verdict::ok);
  CHECK(f.admit(a, 42, 1001) == flood_verdict::flood);
  CHECK(f.overflows() == 0);
}

TEST_CASE("flood: more than max_clicks_per_ip over all ads in a minute is a flood", "[ingest]") {
  flood_limiter f({10, 120, 1 << 16});
  const auto a = ip("203.0.113.5");
  for (std::uint64_t ad = 1; ad <= 120; ++ad) CHECK(f.admit(a, ad, 7) == flood_verdict::ok);
  CHECK(f.admit(a, 121, 7) == flood_verdict::flood);
  CHECK(f.admit(a, 1, 7) == flood_verdict::flood);
  CHECK(f.admit(ip("203.0.113.6"), 121, 7) == flood_verdict::ok);
  CHECK(f.admit(a, 121, 8) == flood_verdict::ok);
}

TEST_CASE("flood: a full table admits the click and counts the overflow, and the next minute frees it",
          "[ingest]") {
  flood_limiter f({10, 120, 64});
  std::uint32_t overflowed = 0;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const auto v = f.admit(nth_ip(i), 1, 50);
    CHECK(v != flood_verdict::flood);  // never a flood for want of room
    overflowed += v == flood_verdict::overflow ? 1 : 0;
  }
  CHECK(overflowed > 900);  // 64 entries hold at most 64 addresses
  CHECK(f.overflows() == overflowed);
  // A new minute: every entry of the old one is free again.
  std::uint32_t ok = 0;
  for (std::uint32_t i = 0; i < 32; ++i)
    ok += f.admit(nth_ip(5000 + i), 1, 51) == flood_verdict::ok ? 1 : 0;
  CHECK(ok >= 16);
}

TEST_CASE("flood: threads clicking from one address get exactly the limit between them",
          "[ingest]") {
  flood_limiter f({10, 120, 1 << 12});
  const auto a = ip("192.0.2.99");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ok += f.admit(a, 5, 9) == flood_verdict::ok ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 10);
}
