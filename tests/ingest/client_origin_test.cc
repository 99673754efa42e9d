// The client address behind trusted proxies: Forwarded (RFC 7239) and
// X-Forwarded-For, right-most untrusted, never from an untrusted peer.

#include "ingest/client_origin.h"

#include <catch2/catch.hpp>
#include <string>

using namespace adclick;
using namespace adclick::ingest;

namespace {

client_address addr(const std::string& text) {
  auto a = parse_address(text);
  REQUIRE(a.has_value());
  return *a;
}

trusted_proxies proxies(std::initializer_list<const char*> blocks) {
  std::vector<cidr> out;
  for (const char* b : blocks) {
    auto c = parse_cidr(b);
    REQUIRE(c.has_value());
    out.push_back(*c);
  }
  return trusted_proxies(std::move(out));
}

}  // namespace

TEST_CASE("client origin: addresses and blocks parse, and IPv4-mapped IPv6 is IPv4", "[ingest]") {
  CHECK(to_string(addr("192.0.2.7")) == "192.0.2.7");
  CHECK(to_string(addr("2001:db8::1")) == "2001:db8::1");
  CHECK(addr("::ffff:192.0.2.7") == addr("192.0.2.7"));
  for (const char* bad :
       {"", "192.0.2", "192.0.2.256", "2001:db8:::1", "example.com", "192.0.2.7 x"}) {
    INFO(bad);
    CHECK_FALSE(parse_address(bad).has_value());
  }
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "10.0.0.0/-1", "nope/8"}) {
    INFO(bad);
    CHECK_FALSE(parse_cidr(bad).has_value());
  }
  const auto t = proxies({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::ffff:172.16.0.0/108"});
  CHECK(t.contains(addr("10.255.0.1")));
  CHECK_FALSE(t.contains(addr("11.0.0.1")));
  CHECK(t.contains(addr("192.168.1.7")));
  CHECK_FALSE(t.contains(addr("192.168.1.8")));
  CHECK(t.contains(addr("fd12::1")));
  CHECK_FALSE(t.contains(addr("fe80::1")));
  CHECK(t.contains(addr("172.31.255.255")));  // 172.16.0.0/12 written mapped
  client_address mapped;
  mapped.family = 6;
  mapped.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  CHECK(t.contains(mapped));  // a dual-stack socket's view of 10.1.2.3
}

TEST_CASE("client origin: from an untrusted peer the headers are ignored", "[ingest]") {
  const auto t = proxies({"10.0.0.0/8"});
  const auto peer = addr("203.0.113.9");
  CHECK(client_of(peer, "for=198.51.100.1", "198.51.100.2", t) == peer);
  CHECK(client_of(peer, "", "", trusted_proxies{}) == peer);
  CHECK(client_of(addr("10.0.0.1"), "for=198.51.100.1", "", trusted_proxies{}) == addr("10.0.0.1"));
}

TEST_CASE("client origin: behind trusted proxies the right-most untrusted address is the client",
          "[ingest]") {
  const auto t = proxies({"10.0.0.0/8", "2001:db8:ffff::/48"});
  const auto lb = addr("10.0.0.2");
  SECTION("X-Forwarded-For") {
    CHECK(client_of(lb, "", "198.51.100.1", t) == addr("198.51.100.1"));
    // The client wrote 1.1.1.1 itself; 198.51.100.1 is what our proxy saw.
    CHECK(client_of(lb, "", "1.1.1.1, 198.51.100.1, 10.0.0.9", t) == addr("198.51.100.1"));
    CHECK(client_of(lb, "", " 198.51.100.1:4711 , 10.0.0.9", t) == addr("198.51.100.1"));
    CHECK(client_of(lb, "", "[2001:db8::5]:443, 2001:db8:ffff::1", t) == addr("2001:db8::5"));
    // Every hop trusted: the left-most.
    CHECK(client_of(lb, "", "10.1.1.1, 10.0.0.9", t) == addr("10.1.1.1"));
    // No header: the proxy itself.
    CHECK(client_of(lb, "", "", t) == lb);
    // Garbage right of the trusted hops ends the walk at the last proxy.
    CHECK(client_of(lb, "", "198.51.100.1, bogus, 10.0.0.9", t) == addr("10.0.0.9"));
  }
  SECTION("Forwarded (RFC 7239) wins over X-Forwarded-For") {
    CHECK(client_of(lb, "for=192.0.2.60;proto=http;by=203.0.113.43", "198.51.100.2", t) ==
          addr("192.0.2.60"));
    CHECK(client_of(lb, R"(for="[2001:db8:cafe::17]:4711", for=10.0.0.9)", "", t) ==
          addr("2001:db8:cafe::17"));
    CHECK(client_of(lb, R"(For="192.0.2.43:47011";proto=https)", "", t) == addr("192.0.2.43"));
    CHECK(client_of(lb, "for=1.1.1.1, for=192.0.2.60, for=10.0.0.9", "", t) == addr("192.0.2.60"));
    // "unknown" and obfuscated identifiers vouch for no one.
    CHECK(client_of(lb, "for=192.0.2.60, for=unknown", "", t) == lb);
    CHECK(client_of(lb, "for=192.0.2.60, for=_hidden, for=10.0.0.9", "", t) == addr("10.0.0.9"));
    // A quoted comma is not a separator.
    CHECK(client_of(lb, R"(for=192.0.2.60;x="a,b")", "", t) == addr("192.0.2.60"));
  }
}
