// The command line: help, version, errors, and `log inspect`.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "log/segmented_log.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::testutil;

TEST_CASE("help and version", "[app]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"serve", "--help"}, {"log", "--help"},
        {"log", "inspect", "--help"}, {"version", "--help"}}) {
    std::vector<std::string> argv{ADCLICK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto [code, out] = run(argv);
    INFO(args.front());
    CHECK(code == 0);
    CHECK_THAT(out, Catch::Contains("Usage"));
  }
  const auto [code, out] = run({ADCLICK_BINARY, "version"});
  CHECK(code == 0);
  CHECK_THAT(out, Catch::StartsWith("adclick "));
  // The release build runs on jemalloc (CMake option ADCLICK_JEMALLOC).
  CHECK_THAT(out, Catch::Contains("(allocator: " ADCLICK_EXPECTED_ALLOCATOR ")"));
}

TEST_CASE("unknown subcommands and options fail with one clear line", "[app]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"frobnicate"}, {"serve", "--bogus"}, {}}) {
    std::vector<std::string> argv{ADCLICK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto [code, out] = run(argv);
    CHECK(code != 0);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK_THAT(out, Catch::StartsWith("adclick: "));
  }
}

TEST_CASE("serve --print-config shows the embedded default with secrets masked", "[app]") {
  const auto [code, out] = run({ADCLICK_BINARY, "serve", "--print-config"});
  CHECK(code == 0);
  CHECK_THAT(out, Catch::Contains("partitions = 8") && Catch::Contains("***"));
  CHECK(out.find("demo-admin-token") == std::string::npos);
}

namespace {
void make_log(const std::string& dir, int records) {
  log::log_options o;
  o.dir = dir;
  o.partitions = 2;
  o.segment_size = 8192;
  log::recovery_report rep;
  std::string err;
  auto l = log::segmented_log::open(o, rep, err);
  REQUIRE(l);
  (*l)->start();
  for (int i = 0; i < records; ++i) {
    click_record r;
    r.event_time_ms = 1'800'000'000'000 + i * 1000;
    r.ad_id = 42;
    r.expires_at_s = 1'800'003'600;
    r.key_id = "k1";
    r.impression_id = "imp-" + std::to_string(i);
    REQUIRE((*l)->append_and_wait(static_cast<log::partition_id>(i % 2), r));
  }
  (*l)->stop();
}
}  // namespace

TEST_CASE("log inspect on a clean and on a corrupted log", "[app]") {
  temp_dir dir;
  const std::string log_dir = dir / "data/log";
  make_log(log_dir, 400);
  {
    const auto [code, out] = run({ADCLICK_BINARY, "log", "inspect", log_dir});
    INFO(out);
    CHECK(code == 0);
    CHECK_THAT(out, Catch::Contains("400 records") && Catch::Contains("clean") &&
                        Catch::Contains("2027-01-15T"));
  }
  // The data dir works as well.
  CHECK(run({ADCLICK_BINARY, "log", "inspect", dir / "data"}).first == 0);

  // Flip one byte in the middle of a sealed segment.
  const std::string seg = log_dir + "/p0001/00000000000000000000.seg";
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(500);
    f.put('\x7f');
  }
  const auto [code, out] = run({ADCLICK_BINARY, "log", "inspect", log_dir});
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("CORRUPT partition 1 segment 0") && Catch::Contains("DAMAGED"));

  SECTION("not a log directory") {
    const auto [c2, o2] = run({ADCLICK_BINARY, "log", "inspect", dir / "nothing"});
    CHECK(c2 == 1);
    CHECK_THAT(o2, Catch::Contains("LOG_META"));
  }
}
