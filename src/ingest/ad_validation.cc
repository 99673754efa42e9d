#include "ingest/ad_validation.h"

#include <cctype>
#include <charconv>

#include "base/ad_id.h"

namespace adclick::ingest {
namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool valid_ad_url(std::string_view url, std::string& why) {
  if (url.empty()) {
    why = "url is empty";
    return false;
  }
  if (url.size() > 2048) {
    why = "url is longer than 2048 bytes";
    return false;
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      why = "url contains whitespace, a control character or a non-ASCII byte "
            "(percent-encode it)";
      return false;
    }
  }
  std::size_t rest = 0;
  if (starts_with_nocase(url, "https://")) {
    rest = 8;
  } else if (starts_with_nocase(url, "http://")) {
    rest = 7;
  } else {
    why = "url must be absolute and start with http:// or https://";
    return false;
  }
  const std::string_view after = url.substr(rest);
  const std::string_view authority = after.substr(0, after.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    why = "url must not contain user info (user@host)";
    return false;
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close == 1) {
      why = "url has a malformed IPv6 host";
      return false;
    }
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        why = "url has a malformed IPv6 host";
        return false;
      }
    }
    host = host.substr(close + 1);
    if (!host.empty() && host.front() != ':') {
      why = "url has a malformed host";
      return false;
    }
  } else {
    const auto colon = host.find(':');
    const std::string_view name = host.substr(0, colon);
    if (name.empty()) {
      why = "url has no host";
      return false;
    }
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
        why = "url host may hold only letters, digits, '-' and '.'";
        return false;
      }
    }
    host = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
  }
  if (!host.empty()) {  // ":port"
    const std::string_view port = host.substr(1);
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
      why = "url has a malformed port";
      return false;
    }
  }
  return true;
}

bool valid_advertiser_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

registry_errc validate_ad(std::uint64_t ad_id, std::string_view advertiser_id, std::string_view url,
                          std::string& why) {
  if (!base::valid_ad_id(ad_id)) {
    why = base::kAdIdRule;
    return registry_errc::invalid_ad_id;
  }
  if (!valid_advertiser_id(advertiser_id)) {
    why = "advertiserId must be 1 to 64 characters of [A-Za-z0-9._-]";
    return registry_errc::invalid_advertiser;
  }
  if (!valid_ad_url(url, why)) return registry_errc::invalid_url;
  return registry_errc{};
}

}  // namespace adclick::ingest
