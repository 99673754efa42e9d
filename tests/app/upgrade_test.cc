// Upgrades: data dirs written by earlier releases (tests/fixtures/datadir-v*,
// made by tests/fixtures/make-datadir.sh) must open in this build, pass
// their checksums and serve the counts they were written with.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("upgrade: every fixture data dir opens, verifies and serves the counts it was written with", "[app]") {
  const fs::path fixtures = fs::path(ADCLICK_SOURCE_DIR) / "tests/fixtures";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(fixtures)) {
    if (!entry.is_directory() || entry.path().filename().string().rfind("datadir-", 0) != 0) continue;
    ++seen;
    const std::string name = entry.path().filename().string();
    INFO(name);
    temp_dir dir;
    const fs::path copy = fs::path(dir.path()) / name;
    fs::copy(entry.path(), copy, fs::copy_options::recursive);

    // Its config, pointed at the copy and at a free port.
    std::string config = slurp(copy / "fixture.toml");
    config = std::regex_replace(config, std::regex("FIXTURE"), copy.string());
    config = std::regex_replace(config, std::regex(R"(listen = "127\.0\.0\.1:[0-9]+")"), "listen = \"127.0.0.1:0\"");
    const std::string config_path = dir / "adclick.toml";
    std::ofstream(config_path) << config;
    const auto expected = nlohmann::json::parse(slurp(copy / "expected.json"));

    // Every record of the log and of the archive passes its checksum.
    const auto [log_code, log_out] = run({ADCLICK_BINARY, "log", "inspect", (copy / "data/log").string()});
    INFO(log_out);
    CHECK(log_code == 0);
    const auto [arc_code, arc_out] = run({ADCLICK_BINARY, "log", "inspect", (copy / "archive").string()});
    INFO(arc_out);
    CHECK(arc_code == 0);

    adclick_server server(config_path, dir / "out.txt");
    INFO(server.proc().output());
    REQUIRE(server.ready());
    const std::string token = std::regex_replace(config, std::regex(R"re([\s\S]*admin_token = "([^"]*)"[\s\S]*)re"), "$1");
    for (const auto& [ad, total] : expected.at("ads").items()) {
      INFO("ad " << ad);
      const auto r = http_get(server.port(),
                              "/api/v1/ads/" + ad + "/aggregates?from=" + std::to_string(expected.at("from").get<long long>()) +
                                  "&to=" + std::to_string(expected.at("to").get<long long>()),
                              "Authorization: Bearer " + token + "\r\n");
      INFO(r.body);
      REQUIRE(r.status == 200);
      CHECK(nlohmann::json::parse(r.body).at("total") == total);
    }
  }
  CHECK(seen >= 1);
}
