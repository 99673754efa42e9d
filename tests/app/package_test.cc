// The Debian package: built with cpack from this build, its contents checked
// with dpkg-deb, and the packaged binary run from the unpacked tree on the
// packaged config.

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE(
    "the .deb: contents, dependencies, conffile, and the packaged binary serving on the packaged config",
    "[app]") {
  temp_dir dir;
  const auto [pack_rc, pack_out] =
      run({"cpack", "--config", std::string(ADCLICK_BUILD_DIR) + "/CPackConfig.cmake", "-G", "DEB",
           "-B", dir / "pkg"},
          240s);
  INFO(pack_out);
  REQUIRE(pack_rc == 0);
  std::string deb;
  for (const auto& e : std::filesystem::directory_iterator(dir / "pkg")) {
    if (std::regex_match(e.path().filename().string(), std::regex(R"(adclick_[0-9.]+_amd64\.deb)")))
      deb = e.path();
  }
  REQUIRE_FALSE(deb.empty());

  const auto [list_rc, list] = run({"dpkg-deb", "-c", deb});
  REQUIRE(list_rc == 0);
  for (const char* path :
       {"./usr/bin/adclick", "./etc/adclick/adclick.toml",
        "./usr/lib/systemd/system/adclick.service", "./usr/share/man/man1/adclick.1.gz",
        "./usr/share/doc/adclick/copyright"}) {
    INFO(path);
    CHECK_THAT(list, Catch::Contains(std::string(" ") + path + "\n"));
  }
  CHECK_THAT(run({"dpkg-deb", "-f", deb, "Package"}).second, Catch::Equals("adclick\n"));
  // Dependencies come from the linked shared libraries.
  CHECK_THAT(run({"dpkg-deb", "-f", deb, "Depends"}).second,
             Catch::Contains("libc6") && Catch::Contains("libssl3") &&
                 Catch::Contains("librdkafka1") && Catch::Contains("libsystemd0"));
  // The config is a conffile: an upgrade keeps the admin's edits.
  const auto [ctl_rc, ctl] = run({"dpkg-deb", "--ctrl-tarfile", deb});
  REQUIRE(ctl_rc == 0);
  CHECK_THAT(ctl, Catch::Contains("/etc/adclick/adclick.toml"));

  REQUIRE(run({"dpkg-deb", "-x", deb, dir / "root"}).first == 0);
  const std::string bin = dir / "root/usr/bin/adclick";
  const std::string packaged = dir / "root/etc/adclick/adclick.toml";
  CHECK(read_file(dir / "root/usr/lib/systemd/system/adclick.service") ==
        read_file(std::string(ADCLICK_SOURCE_DIR) + "/contrib/systemd/adclick.service"));
  CHECK_THAT(run({bin, "--help"}).second, Catch::Contains("serve"));
  CHECK_THAT(run({"gzip", "-dc", dir / "root/usr/share/man/man1/adclick.1.gz"}).second,
             Catch::StartsWith(".TH ADCLICK 1") && Catch::Contains("SIGHUP"));

  // As shipped: no demo secrets, so it refuses to start, with one line
  // naming every secret to set.
  const std::string text = read_file(packaged);
  CHECK_THAT(text, Catch::Contains("data_dir = \"/var/lib/adclick\"") && !Catch::Contains("demo"));
  const auto [refuse_rc, refused] = run({bin, "serve", "--config", packaged}, 30s);
  CHECK(refuse_rc == 2);
  CHECK_THAT(refused, Catch::Contains(
                          "signing.keys, signing.current_key, auth.admin_token: secrets not set"));
  CHECK(std::count(refused.begin(), refused.end(), '\n') == 1);

  // With the secrets supplied (the commented lines filled in) and, for the
  // test only, a free loopback port and a data dir under the temp dir.
  std::string filled = text;
  filled = std::regex_replace(filled, std::regex("# current_key = \"k1\""), "current_key = \"k1\"");
  filled = std::regex_replace(filled, std::regex("# keys = \\{ k1 = \"[^\"]*\" \\}"),
                              std::string("keys = { k1 = \"") + kTestSigningKey + "\" }");
  filled = std::regex_replace(filled, std::regex("# admin_token = \"[^\"]*\""),
                              std::string("admin_token = \"") + kTestAdminToken + "\"");
  filled =
      std::regex_replace(filled, std::regex("# advertiser_keys = \\{ \"adv-1\" = \"[^\"]*\" \\}"),
                         "advertiser_keys = { \"adv-1\" = \"test-key-for-adv-1-xyz\" }");
  filled = std::regex_replace(filled, std::regex("listen = \"0.0.0.0:8080\""),
                              "listen = \"127.0.0.1:0\"");
  filled = std::regex_replace(filled, std::regex("data_dir = \"/var/lib/adclick\""),
                              "data_dir = \"" + (dir / "data") + "\"");
  const std::string cfg = dir / "adclick.toml";
  std::ofstream(cfg) << filled;
  adclick_server server(cfg, dir / "out.txt", bin);
  INFO(server.proc().output());
  REQUIRE(server.ready());
  const std::string admin = std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n";
  CHECK(http_request(server.port(), "PUT", "/api/v1/ads/42",
                     admin + "Content-Type: application/json\r\n",
                     R"({"advertiserId":"adv-1","url":"https://shop.example.com/p"})")
            .status == 201);
  const auto click = http_get(server.port(), click_server::click_path(42, "imp-package-1"));
  CHECK(click.status == 302);
  CHECK(click.headers.at("location") == "https://shop.example.com/p");
  const std::int64_t now = unix_now_s();
  const std::string query = "/api/v1/ads/42/aggregates?from=" + std::to_string(now - 3600) +
                            "&to=" + std::to_string(now + 3600);
  std::string body;
  for (int i = 0; i < 1500 && body.find("\"total\":1") == std::string::npos; ++i) {
    body = http_get(server.port(), query, "Authorization: Bearer test-key-for-adv-1-xyz\r\n").body;
    if (body.find("\"total\":1") == std::string::npos) std::this_thread::sleep_for(20ms);
  }
  CHECK_THAT(body, Catch::Contains("\"total\":1"));
  server.proc().signal(SIGTERM);
  CHECK(server.proc().wait() == 0);
}
