#include <catch2/catch.hpp>

#include <string>

#include "recon/report.h"

using namespace adclick;

namespace {
std::string sample() {
  recon::report r;
  r.id = 3;
  r.requested_from_ms = r.from_ms = 1'795'896'000'000;
  r.requested_to_ms = r.to_ms = 1'795'899'600'000;
  r.rows_checked = 10;
  return recon::to_json(r);
}
// The sample with the value of `key` replaced by `value` (JSON text).
std::string with(const std::string& key, const std::string& value) {
  std::string s = sample();
  const auto at = s.find("\"" + key + "\":");
  REQUIRE(at != std::string::npos);
  const auto start = at + key.size() + 3;
  const auto end = s.find_first_of(",}", start);
  return s.substr(0, start) + value + s.substr(end);
}
}  // namespace

TEST_CASE("a stored report round-trips", "[recon]") {
  const auto r = recon::report_from_json(sample());
  REQUIRE(r);
  CHECK(r->id == 3);
  CHECK(r->from_ms == 1'795'896'000'000);
  CHECK(r->rows_checked == 10);
}

TEST_CASE("a stored report with a number out of its field's range is refused, not converted", "[recon]") {
  // Found by the state_rows fuzz target: a number too large for int64 is a
  // double to the JSON parser, and converting it was undefined behaviour.
  CHECK_FALSE(recon::report_from_json(with("fromMs", "17958960666666666666666666666666666000")));
  CHECK_FALSE(recon::report_from_json(with("fromMs", "1.5")));
  CHECK_FALSE(recon::report_from_json(with("rowsChecked", "-1")));
  CHECK_FALSE(recon::report_from_json(with("rowsChecked", "1e30")));
  CHECK_FALSE(recon::report_from_json(with("attempts", "4294967296")));
  CHECK_FALSE(recon::report_from_json(with("id", "\"3\"")));
  CHECK(recon::report_from_json(with("driftNet", "-5"))->drift_net == -5);
}
