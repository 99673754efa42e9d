// HTTPS against the real binary: server.tls_cert/tls_key, a click over TLS,
// SIGHUP reloading the certificate, and the plain-HTTP redirect listener.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_cert.h"

using namespace adclick::testutil;
using namespace std::chrono_literals;

namespace {

// curl over HTTPS trusting `ca`; returns "<status>|<Location>|<body>" and,
// with verbose, curl's trace (which names the peer's certificate).
std::string curl(const std::string& ca, const std::vector<std::string>& args, bool verbose = false) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "--cacert", ca,
                                "-w", "|%{http_code}|%{redirect_url}"};
  if (verbose) argv.push_back("-v");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv).second;
}

}  // namespace

TEST_CASE("HTTPS end to end: a click over TLS, SIGHUP reload, plain HTTP redirected", "[api]") {
  temp_dir dir;
  std::string why;
  INFO(why);
  REQUIRE(make_test_cert(dir / "cert.pem", dir / "key.pem", "adclick-a", &why));
  REQUIRE(make_test_cert(dir / "b-cert.pem", dir / "b-key.pem", "adclick-b", &why));
  click_server s(dir.path(), "",
                 "tls_cert = \"" + (dir / "cert.pem") + "\"\ntls_key = \"" + (dir / "key.pem") +
                     "\"\nredirect_listen = \"127.0.0.1:0\"\nhsts = \"365d\"\n");
  REQUIRE(s.ready());
  const std::string base = "https://127.0.0.1:" + std::to_string(s.port());
  const std::string ca = dir / "cert.pem";
  const std::string auth = std::string("Authorization: Bearer ") + kTestAdminToken;

  const std::string url = "https://shop.example.com/landing?x=1";
  CHECK_THAT(curl(ca, {"-X", "PUT", "-H", auth, "-H", "Content-Type: application/json", "--data",
                       R"({"advertiserId":"adv-1","url":")" + url + R"("})", base + "/api/v1/ads/7"}),
             Catch::EndsWith("|201|"));
  // Click URLs minted by the server point at https.
  CHECK_THAT(curl(ca, {"-X", "POST", "-H", auth, base + "/api/v1/ads/7/click-urls"}),
             Catch::Contains("\"" + base + "/click?adId=7&"));
  const std::string click = base + click_server::click_path(7, "imp-tls-1");
  CHECK_THAT(curl(ca, {"-o", "/dev/null", click}), Catch::EndsWith("|302|" + url));
  CHECK_THAT(curl(ca, {base + "/metrics"}), Catch::Contains("adclick_clicks_total{outcome=\"counted\"} 1"));

  // The redirect listener's port is in the log.
  const std::string marker = "serve: redirecting plain HTTP on 127.0.0.1:";
  REQUIRE(s.proc().wait_for_output(marker));
  const std::string out = s.proc().output();
  const auto at = out.find(marker) + marker.size();
  const std::string redirect_port = out.substr(at, out.find_first_not_of("0123456789", at) - at);
  const std::string plain = "http://127.0.0.1:" + redirect_port + click_server::click_path(7, "imp-tls-2");
  const auto r = run({"curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", plain});
  CHECK(r.second == "308 " + base + plain.substr(plain.find("/click")));
  // server.hsts: on every HTTPS response (a click's 302, here a duplicate; the API), never on plain HTTP.
  CHECK_THAT(curl(ca, {"-o", "/dev/null", "-D", "-", base + click_server::click_path(7, "imp-tls-1")}),
             Catch::Contains("Strict-Transport-Security: max-age=31536000\r\n"));
  CHECK_THAT(curl(ca, {"-o", "/dev/null", "-D", "-", base + "/healthz"}),
             Catch::Contains("Strict-Transport-Security: max-age=31536000\r\n"));
  const auto plain_head = run({"curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-D", "-", plain});
  CHECK_THAT(plain_head.second, Catch::StartsWith("HTTP/1.1 308") &&
                                    !Catch::Contains("Strict-Transport-Security", Catch::CaseSensitive::No));
  // Following it lands on the HTTPS click, and that counts.
  CHECK_THAT(curl(ca, {"-L", "--max-redirs", "1", "-o", "/dev/null", "-H", "Host: 127.0.0.1:" + redirect_port, plain}),
             Catch::Contains("|302|" + url));

  // SIGHUP: new connections present the new certificate.
  std::filesystem::copy_file(dir / "b-cert.pem", dir / "cert.pem", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(dir / "b-key.pem", dir / "key.pem", std::filesystem::copy_options::overwrite_existing);
  s.proc().signal(SIGHUP);
  REQUIRE(s.proc().wait_for_output("certificate and key reloaded"));
  const std::string trace = curl(dir / "b-cert.pem", {base + "/healthz"}, true);
  CHECK_THAT(trace, Catch::Contains("CN=adclick-b"));
  CHECK_THAT(trace, Catch::EndsWith("|200|"));
  CHECK_THAT(curl(dir / "b-cert.pem", {base + "/metrics"}),
             Catch::Contains("adclick_clicks_total{outcome=\"counted\"} 2"));

  // A broken file on SIGHUP: refused, logged, the server keeps serving.
  std::ofstream(dir / "cert.pem", std::ios::trunc) << "garbage\n";
  s.proc().signal(SIGHUP);
  REQUIRE(s.proc().wait_for_output("keeping the current certificate"));
  CHECK_THAT(curl(dir / "b-cert.pem", {base + "/healthz"}), Catch::EndsWith("|200|"));
  CHECK(s.stop() == 0);
}

TEST_CASE("HTTPS config errors stop the start with one line", "[api]") {
  temp_dir dir;
  SECTION("a certificate file that does not exist") {
    const std::string cfg = write_test_config(dir.path(), "", "tls_cert = \"" + (dir / "nope.pem") +
                                                                  "\"\ntls_key = \"" + (dir / "nope-key.pem") + "\"\n");
    const auto [rc, out] = run({ADCLICK_BINARY, "serve", "--config", cfg}, 30s);
    CHECK(rc != 0);
    CHECK_THAT(out, Catch::Contains(dir / "nope.pem"));
  }
  SECTION("a redirect listener without TLS") {
    const std::string cfg = write_test_config(dir.path(), "", "redirect_listen = \"127.0.0.1:0\"\n");
    const auto [rc, out] = run({ADCLICK_BINARY, "serve", "--config", cfg}, 30s);
    CHECK(rc != 0);
    CHECK_THAT(out, Catch::Contains("server.redirect_listen"));
  }
  SECTION("hsts without TLS") {
    const std::string cfg = write_test_config(dir.path(), "", "hsts = \"365d\"\n");
    const auto [rc, out] = run({ADCLICK_BINARY, "serve", "--config", cfg}, 30s);
    CHECK(rc != 0);
    CHECK_THAT(out, Catch::Contains("server.hsts") && Catch::Contains("needs server.tls_cert"));
  }
  SECTION("hsts that is not a duration") {
    std::string why;
    INFO(why);
    REQUIRE(make_test_cert(dir / "cert.pem", dir / "key.pem", "adclick-a", &why));
    const std::string cfg = write_test_config(
        dir.path(), "",
        "tls_cert = \"" + (dir / "cert.pem") + "\"\ntls_key = \"" + (dir / "key.pem") + "\"\nhsts = \"1 year\"\n");
    const auto [rc, out] = run({ADCLICK_BINARY, "serve", "--config", cfg}, 30s);
    CHECK(rc != 0);
    CHECK_THAT(out, Catch::Contains("server.hsts"));
  }
}
