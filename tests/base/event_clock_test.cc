#include <catch2/catch.hpp>

#include <cstdint>

#include "base/event_clock.h"

using adclick::base::event_clock;

namespace {
// A wall clock and a monotonic clock the test moves by hand.
struct fake_clocks {
  std::int64_t wall = 1'800'000'000'000;
  std::int64_t steady = 5'000;
  void tick(std::int64_t ms) {
    wall += ms;
    steady += ms;
  }
  event_clock make() {
    return event_clock([this] { return wall; }, [this] { return steady; });
  }
};
}  // namespace

TEST_CASE("the event clock follows the wall clock while it runs normally", "[base]") {
  fake_clocks c;
  auto clock = c.make();
  CHECK(clock.now_ms() == c.wall);
  for (int i = 0; i < 100; ++i) {
    c.tick(7);
    CHECK(clock.now_ms() == c.wall);
  }
}

TEST_CASE("a forward step of the wall clock is taken at once", "[base]") {
  fake_clocks c;
  auto clock = c.make();
  (void)clock.now_ms();
  c.tick(1000);
  c.wall += 3'600'000;  // NTP sets the clock an hour ahead
  CHECK(clock.now_ms() == c.wall);
  c.tick(10);
  CHECK(clock.now_ms() == c.wall);
}

TEST_CASE("after a backward step the event clock never goes back and catches up at half rate", "[base]") {
  fake_clocks c;
  auto clock = c.make();
  c.tick(1000);
  const std::int64_t before = clock.now_ms();
  c.wall -= 60'000;  // a minute back
  std::int64_t prev = before;
  std::int64_t steps = 0;
  // Each second of real time moves the event clock half a second, so the
  // wall clock (a second per second) catches up after two minutes.
  while (clock.now_ms() > c.wall) {
    c.tick(1000);
    const std::int64_t t = clock.now_ms();
    CHECK(t >= prev);
    CHECK(t - prev <= 1000);
    prev = t;
    ++steps;
    REQUIRE(steps < 200);
  }
  CHECK(steps >= 119);
  CHECK(steps <= 121);
  // Then it follows the wall clock again.
  c.tick(5);
  CHECK(clock.now_ms() == c.wall);
}

TEST_CASE("the event clock is never below any time it returned, whatever the wall clock does", "[base]") {
  fake_clocks c;
  auto clock = c.make();
  std::int64_t prev = clock.now_ms();
  std::uint64_t x = 12345;
  for (int i = 0; i < 10'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c.tick(static_cast<std::int64_t>(x >> 60));                       // 0..15 ms pass
    if ((x >> 20) % 100 == 0) c.wall -= static_cast<std::int64_t>((x >> 30) % 10'000);  // steps back
    if ((x >> 20) % 100 == 1) c.wall += static_cast<std::int64_t>((x >> 30) % 10'000);  // steps forward
    const std::int64_t t = clock.now_ms();
    REQUIRE(t >= prev);
    prev = t;
  }
}
