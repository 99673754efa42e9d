// adclick::http over TLS: real certificates made with the openssl command,
// real handshakes from curl, openssl s_client and a Beast client, on
// 127.0.0.1.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "http/router.h"
#include "http/server.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_cert.h"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using adclick::http::router;
using adclick::http::server;
using adclick::http::server_options;
using adclick::testutil::run;
using adclick::testutil::temp_dir;

void make_cert(const std::string& cert, const std::string& key, const std::string& cn) {
  std::string why;
  INFO(why);
  REQUIRE(adclick::testutil::make_test_cert(cert, key, cn, &why));
}

router hello_routes() {
  router r;
  r.add("GET", "/hello", [](const adclick::http::request&, const adclick::http::responder& respond) {
    adclick::http::response resp;
    resp.content_type = "text/plain";
    resp.body = "hi";
    respond(std::move(resp));
  });
  // Larger than one TLS record (16 KiB): a gathered write of head and body
  // once stopped after the head over TLS.
  r.add("GET", "/big", [](const adclick::http::request&, const adclick::http::responder& respond) {
    adclick::http::response resp;
    resp.content_type = "text/plain";
    resp.body = std::string(100'000, 'x');
    respond(std::move(resp));
  });
  return r;
}

std::string curl_https(std::uint16_t port, const std::string& ca, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "--cacert", ca};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + "/hello");
  const auto [rc, out] = run(argv);
  return std::to_string(rc) + ":" + out;
}

// A keep-alive TLS client (no verification: the test reads the peer's CN).
class tls_client {
 public:
  explicit tls_client(std::uint16_t port) : ctx_(asio::ssl::context::tls_client), stream_(ioc_, ctx_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    stream_.next_layer().connect(ep);
    stream_.handshake(asio::ssl::stream_base::client);
  }
  std::string get(const std::string& path) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, path, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream_, buf_, res);
    return std::to_string(res.result_int()) + " " + res.body();
  }
  std::string peer_cn() {
    X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
    if (cert == nullptr) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    X509_free(cert);
    return buf;
  }

 private:
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buf_;
};

}  // namespace

TEST_CASE("HTTPS: curl gets through with TLS 1.2 and 1.3, and nothing older or weaker", "[http]") {
  temp_dir dir("tls");
  make_cert(dir / "cert.pem", dir / "key.pem", "adclick-a");
  server_options o;
  o.port = 0;
  o.tls_cert_file = dir / "cert.pem";
  o.tls_key_file = dir / "key.pem";
  server s(o, hello_routes());
  std::string error_line;
  REQUIRE_FALSE(s.start(error_line));

  CHECK(curl_https(s.port(), dir / "cert.pem") == "0:hi");
  CHECK(curl_https(s.port(), dir / "cert.pem", {"--tlsv1.3"}) == "0:hi");
  CHECK(curl_https(s.port(), dir / "cert.pem", {"--tlsv1.2", "--tls-max", "1.2"}) == "0:hi");

  // Refused by the server, not by the client: each attempt is a handshake
  // failure on the server's side.
  const auto failures_before = s.stats().tls_handshake_failures;
  SECTION("TLS 1.1 (the client allows it)") {
    const auto [rc, out] = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(s.port()),
                                "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
    CHECK(rc != 0);
  }
  SECTION("a TLS 1.2 cipher without forward secrecy") {
    CHECK(curl_https(s.port(), dir / "cert.pem", {"--tlsv1.2", "--tls-max", "1.2", "--ciphers", "AES128-GCM-SHA256"})
              .rfind("0:", 0) != 0);
  }
  SECTION("a TLS 1.2 cipher without AEAD") {
    CHECK(curl_https(s.port(), dir / "cert.pem",
                     {"--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA256"})
              .rfind("0:", 0) != 0);
  }
  SECTION("plain HTTP on the TLS port") {
    const auto [rc, out] = run({"curl", "-sS", "--max-time", "5", "http://127.0.0.1:" + std::to_string(s.port()) + "/hello"});
    CHECK(rc != 0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.stats().tls_handshake_failures == failures_before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(s.stats().tls_handshake_failures > failures_before);
  // The server is still fine.
  CHECK(curl_https(s.port(), dir / "cert.pem") == "0:hi");
  s.stop();
}

TEST_CASE("HTTPS: a reload swaps the certificate for new connections without dropping open ones", "[http]") {
  temp_dir dir("tls");
  make_cert(dir / "cert.pem", dir / "key.pem", "adclick-a");
  make_cert(dir / "b-cert.pem", dir / "b-key.pem", "adclick-b");
  server_options o;
  o.port = 0;
  o.tls_cert_file = dir / "cert.pem";
  o.tls_key_file = dir / "key.pem";
  server s(o, hello_routes());
  std::string error_line;
  REQUIRE_FALSE(s.start(error_line));

  tls_client before(s.port());
  CHECK(before.get("/hello") == "200 hi");
  CHECK(before.get("/big") == "200 " + std::string(100'000, 'x'));
  CHECK(before.peer_cn() == "adclick-a");

  std::filesystem::copy_file(dir / "b-cert.pem", dir / "cert.pem", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(dir / "b-key.pem", dir / "key.pem", std::filesystem::copy_options::overwrite_existing);
  REQUIRE_FALSE(s.reload_tls(error_line));

  // The open connection goes on; a new one gets the new certificate.
  CHECK(before.get("/hello") == "200 hi");
  tls_client after(s.port());
  CHECK(after.peer_cn() == "adclick-b");
  CHECK(after.get("/hello") == "200 hi");

  SECTION("a broken file is refused and the current certificate stays") {
    std::ofstream(dir / "cert.pem", std::ios::trunc) << "not a certificate\n";
    error_line.clear();
    CHECK(s.reload_tls(error_line));
    CHECK(error_line.find(dir / "cert.pem") != std::string::npos);
    tls_client again(s.port());
    CHECK(again.peer_cn() == "adclick-b");
    CHECK(again.get("/hello") == "200 hi");
  }
  SECTION("a key that does not match the certificate is refused") {
    std::filesystem::copy_file(dir / "b-cert.pem", dir / "cert.pem", std::filesystem::copy_options::overwrite_existing);
    make_cert(dir / "c-cert.pem", dir / "key.pem", "adclick-c");
    error_line.clear();
    CHECK(s.reload_tls(error_line));
    INFO(error_line);
    CHECK(error_line.find(dir / "key.pem") != std::string::npos);
    CHECK((error_line.find("mismatch") != std::string::npos ||
           error_line.find("does not match") != std::string::npos));
  }
  s.stop();
}

TEST_CASE("HTTPS: start() names a certificate file it cannot load", "[http]") {
  temp_dir dir("tls");
  server_options o;
  o.port = 0;
  o.tls_cert_file = dir / "missing.pem";
  o.tls_key_file = dir / "missing-key.pem";
  server s(o, hello_routes());
  std::string error_line;
  CHECK(s.start(error_line));
  CHECK(error_line.find(dir / "missing.pem") != std::string::npos);
  CHECK(s.port() == 0);
}

TEST_CASE("the redirect listener sends every request to HTTPS on the same host", "[http]") {
  server_options o;
  o.port = 0;
  o.redirect_https_port = 8443;
  server s(o, router{});
  REQUIRE_FALSE(s.start());
  const std::string base = "http://127.0.0.1:" + std::to_string(s.port());
  const auto fetch = [&](const std::vector<std::string>& extra, const std::string& path) {
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w",
                                  "%{http_code} %{redirect_url}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(base + path);
    return run(argv).second;
  };
  CHECK(fetch({"-H", "Host: ads.example.com:8080"}, "/click?adId=1&impressionId=i&signature=s") ==
        "308 https://ads.example.com:8443/click?adId=1&impressionId=i&signature=s");
  CHECK(fetch({"-X", "POST", "-H", "Host: [::1]:80"}, "/api/v1/ads") == "308 https://[::1]:8443/api/v1/ads");
  CHECK(fetch({"-H", "Host: 127.0.0.1"}, "/healthz") == "308 https://127.0.0.1:8443/healthz");
  // No usable Host: nowhere safe to send the client.
  CHECK(fetch({"-H", "Host:"}, "/x").rfind("400", 0) == 0);
  CHECK(fetch({"-H", "Host: evil.example/@x"}, "/x").rfind("400", 0) == 0);
  s.stop();
}
