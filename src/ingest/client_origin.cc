#include "ingest/client_origin.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace adclick::ingest {
namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on `sep` outside double quotes.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == '\\' && quoted) ++i;  // a quoted-pair
    if (!quoted && s[i] == sep) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// A node as Forwarded's for= (unquoted) or an X-Forwarded-For entry writes
// it: "192.0.2.7", "192.0.2.7:4711", "[2001:db8::1]", "[2001:db8::1]:4711"
// or a bare "2001:db8::1".
std::optional<client_address> parse_node(std::string_view node) {
  node = trim(node);
  if (!node.empty() && node.front() == '[') {
    const auto close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = node.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    return parse_address(node.substr(1, close - 1));
  }
  if (std::count(node.begin(), node.end(), ':') == 1) node = node.substr(0, node.find(':'));
  return parse_address(node);
}

// The for= node of one Forwarded element (unquoted), or empty.
std::string_view forwarded_for(std::string_view element) {
  for (std::string_view pair : split(element, ';')) {
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || !iequals(trim(pair.substr(0, eq)), "for")) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

bool in_block(const client_address& a, const cidr& c) {
  if (a.family != c.base.family) return false;
  const int whole = c.prefix / 8;
  if (std::memcmp(a.bytes.data(), c.base.bytes.data(), static_cast<std::size_t>(whole)) != 0)
    return false;
  const int rest = c.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<std::size_t>(whole)] & mask) ==
         c.base.bytes[static_cast<std::size_t>(whole)];
}

}  // namespace

client_address canonical(const client_address& a) {
  if (a.family != 6 || std::memcmp(a.bytes.data(), kMappedPrefix, sizeof kMappedPrefix) != 0)
    return a;
  client_address v4;
  v4.family = 4;
  std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
  return v4;
}

std::optional<client_address> parse_address(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  client_address a;
  if (::inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (::inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = 6;
    return canonical(a);
  }
  return std::nullopt;
}

std::optional<cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  auto base = parse_address(text.substr(0, slash));
  if (!base) return std::nullopt;
  const int max = base->family == 4 ? 32 : 128;
  // An IPv4-mapped block written in IPv6 form: its prefix counts the 96
  // mapped bits too.
  const bool mapped =
      base->family == 4 && text.substr(0, slash).find(':') != std::string_view::npos;
  int prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    const int written_max = mapped ? 128 : max;
    if (ec != std::errc() || end != p.data() + p.size() || p.empty() || prefix < 0 ||
        prefix > written_max) {
      return std::nullopt;
    }
    if (mapped) {
      if (prefix < 96) return std::nullopt;
      prefix -= 96;
    }
  }
  cidr c{*base, prefix};
  for (int bit = prefix; bit < max; ++bit) {
    c.base.bytes[static_cast<std::size_t>(bit / 8)] &=
        static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
  return c;
}

bool trusted_proxies::contains(const client_address& a) const {
  const client_address c = canonical(a);
  return std::any_of(blocks_.begin(), blocks_.end(), [&](const cidr& b) { return in_block(c, b); });
}

client_address client_of(const client_address& peer, std::string_view forwarded,
                         std::string_view x_forwarded_for, const trusted_proxies& trusted) {
  client_address last = canonical(peer);
  if (!trusted.contains(last)) return last;
  const bool use_forwarded = !trim(forwarded).empty();
  const std::vector<std::string_view> hops =
      split(use_forwarded ? forwarded : x_forwarded_for, ',');
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (it->empty() && hops.size() == 1) break;  // no header
    const auto a = parse_node(use_forwarded ? forwarded_for(*it) : *it);
    if (!a) break;  // "unknown", obfuscated or malformed: no one further is vouched for
    if (!trusted.contains(*a)) return *a;
    last = *a;
  }
  return last;
}

}  // namespace adclick::ingest
