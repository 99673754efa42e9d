#pragma once
// Who clicked: the socket's peer, or, only when the peer is a trusted proxy
// (server.trusted_proxies), the right-most address of `Forwarded` (RFC 7239)
// or `X-Forwarded-For` that is not itself a trusted proxy. Everything to the
// left of that address was written by the client and proves nothing.
//
// A forwarded entry that is not an address ("unknown", an obfuscated
// identifier, garbage) ends the walk: the client is then the last address
// walked, a trusted proxy, which vouched for no one further. IPv4-mapped
// IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket reports for an
// IPv4 peer) are treated as the IPv4 address everywhere.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "adclick/click_record.h"

namespace adclick::ingest {

// An address block: "10.0.0.0/8", "192.0.2.7" (/32), "2001:db8::/32",
// "::1" (/128).
struct cidr {
  client_address base;  // host bits zero
  int prefix = 0;       // 0..32 (IPv4) or 0..128 (IPv6)
};

// Parses one block; nullopt when it is not one (a host part with bits set
// beyond the prefix is accepted and cleared).
std::optional<cidr> parse_cidr(std::string_view text);

// Parses an address "192.0.2.7" or "2001:db8::1" (IPv4-mapped IPv6 becomes
// IPv4); nullopt when it is not one.
std::optional<client_address> parse_address(std::string_view text);

// The address as the rest of adclick sees it: IPv4-mapped IPv6 as IPv4.
client_address canonical(const client_address& a);

class trusted_proxies {
 public:
  trusted_proxies() = default;
  explicit trusted_proxies(std::vector<cidr> blocks) : blocks_(std::move(blocks)) {}
  bool empty() const { return blocks_.empty(); }
  bool contains(const client_address& a) const;

 private:
  std::vector<cidr> blocks_;
};

// The client address of a request from `peer` with the given header values
// (empty when absent; several fields of one header joined by ", " in their
// order). `Forwarded` is used when present, else `X-Forwarded-For`; both are
// ignored unless the peer is trusted.
client_address client_of(const client_address& peer, std::string_view forwarded,
                         std::string_view x_forwarded_for, const trusted_proxies& trusted);

}  // namespace adclick::ingest
