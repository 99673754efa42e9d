#include "ingest/ad_registry.h"

#include <charconv>
#include <chrono>
#include <mutex>

#include "state/store.h"

namespace adclick::ingest {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.registry"; }
  std::string message(int c) const override {
    switch (static_cast<registry_errc>(c)) {
      case registry_errc::invalid_url: return "invalid ad URL";
      case registry_errc::invalid_advertiser: return "invalid advertiser id";
      case registry_errc::invalid_ad_id: return "invalid ad id";
      case registry_errc::not_found: return "no such ad";
    }
    return "unknown registry error";
  }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

const std::error_category& registry_category() noexcept {
  static const category c;
  return c;
}

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

bool valid_ad_id(std::uint64_t id) { return id >= 1 && id < (std::uint64_t{1} << 63); }

ad_registry::ad_registry(state::store& store) : store_(store) {}

std::error_code ad_registry::load() {
  std::unordered_map<std::uint64_t, std::shared_ptr<const state::ad_record>> ads;
  auto ec = store_.for_each_ad([&](const state::ad_record& ad) {
    ads.emplace(ad.ad_id, std::make_shared<const state::ad_record>(ad));
    return true;
  });
  if (ec) return ec;
  std::unique_lock lk(mu_);
  ads_ = std::move(ads);
  return {};
}

std::shared_ptr<const state::ad_record> ad_registry::find(std::uint64_t ad_id) const {
  std::shared_lock lk(mu_);
  auto it = ads_.find(ad_id);
  return it == ads_.end() ? nullptr : it->second;
}

result<state::ad_record> ad_registry::put(std::uint64_t ad_id, std::string_view advertiser_id,
                                          std::string_view url, bool& created, std::string& why) {
  if (!valid_ad_id(ad_id)) {
    why = "adId must be an integer in [1, 2^63)";
    return registry_errc::invalid_ad_id;
  }
  if (!valid_advertiser_id(advertiser_id)) {
    why = "advertiserId must be 1 to 64 characters of [A-Za-z0-9._-]";
    return registry_errc::invalid_advertiser;
  }
  if (!valid_ad_url(url, why)) return registry_errc::invalid_url;
  std::lock_guard w(write_mu_);
  auto prev = find(ad_id);
  created = prev == nullptr;
  state::ad_record ad{ad_id, std::string(advertiser_id), std::string(url), false, now_ms()};
  state::write_batch b;
  b.put_ad(ad, prev ? std::optional<state::ad_record>(*prev) : std::nullopt);
  if (auto ec = store_.write(b, true)) return ec;
  auto entry = std::make_shared<const state::ad_record>(ad);
  std::unique_lock lk(mu_);
  ads_[ad_id] = std::move(entry);
  return ad;
}

result<state::ad_record> ad_registry::pause(std::uint64_t ad_id) {
  std::lock_guard w(write_mu_);
  auto prev = find(ad_id);
  if (!prev) return registry_errc::not_found;
  state::ad_record ad = *prev;
  ad.paused = true;
  ad.updated_ms = now_ms();
  state::write_batch b;
  b.put_ad(ad, *prev);
  if (auto ec = store_.write(b, true)) return ec;
  auto entry = std::make_shared<const state::ad_record>(ad);
  std::unique_lock lk(mu_);
  ads_[ad_id] = std::move(entry);
  return ad;
}

std::size_t ad_registry::size() const {
  std::shared_lock lk(mu_);
  return ads_.size();
}

import_report import_ads_csv(ad_registry& registry, std::string_view text) {
  import_report rep;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.rfind("adId,", 0) == 0) continue;  // header
    const auto c1 = line.find(',');
    const auto c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string_view::npos) {
      rep.errors.push_back("line " + std::to_string(line_no) +
                           ": expected 3 fields adId,advertiserId,url");
      continue;
    }
    const std::string_view id_text = line.substr(0, c1);
    const std::string_view adv = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view url = line.substr(c2 + 1);
    std::uint64_t id = 0;
    auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || p != id_text.data() + id_text.size() || !valid_ad_id(id)) {
      rep.errors.push_back("line " + std::to_string(line_no) +
                           ": adId must be an integer in [1, 2^63)");
      continue;
    }
    bool created = false;
    std::string why;
    auto r = registry.put(id, adv, url, created, why);
    if (!r) {
      rep.errors.push_back("line " + std::to_string(line_no) + ": " +
                           (why.empty() ? r.error().message() : why));
      continue;
    }
    ++rep.imported;
  }
  return rep;
}

}  // namespace adclick::ingest
