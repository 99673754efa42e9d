#include "loadgen_clicks.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace adclick::bench {

std::optional<std::string> decode_base64(std::string_view text) {
  static const auto table = [] {
    constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::array<int, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
    return t;
  }();
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const int v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Unused low bits of the last symbol must be zero: one text per byte string.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

zipf_ads::zipf_ads(std::uint64_t ads, double exponent) : ads_(ads) {
  if (ads == 0) throw std::invalid_argument("zipf_ads: need at least one ad");
  if (exponent < 0) throw std::invalid_argument("zipf_ads: exponent must be >= 0");
  if (exponent == 0) return;
  cdf_.resize(ads);
  double sum = 0;
  for (std::uint64_t k = 1; k <= ads; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k), exponent);
    cdf_[k - 1] = sum;
  }
  for (auto& c : cdf_) c /= sum;
  cdf_.back() = 1.0;  // no rounding gap at the top: every draw lands on an ad
}

std::uint64_t zipf_ads::draw(fast_rng& rng) const {
  const double u = rng.uniform();
  if (cdf_.empty()) {  // uniform: u < 1, so the product stays below ads_
    return std::min(ads_ - 1, static_cast<std::uint64_t>(u * static_cast<double>(ads_))) + 1;
  }
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<std::uint64_t>(it - cdf_.begin()) + 1;
}

double zipf_ads::share(std::uint64_t id) const {
  if (id == 0 || id > ads_) return 0;
  if (cdf_.empty()) return 1.0 / static_cast<double>(ads_);
  return cdf_[id - 1] - (id == 1 ? 0.0 : cdf_[id - 2]);
}

click_source::click_source(const ingest::signer& signer, const zipf_ads& ads,
                           const click_options& options, std::string run, std::uint32_t stream,
                           std::uint64_t seed)
    : signer_(signer),
      ads_(ads),
      options_(options),
      id_prefix_(fmt::format("{}-{}-", run, stream)),
      rng_(seed) {
  remembered_.reserve(options_.dup_fraction > 0 ? kRememberedClicks : 0);
}

std::string click_source::fresh(bool corrupt) {
  const std::uint64_t ad = ads_.draw(rng_);
  std::string impression = id_prefix_;
  fmt::format_to(std::back_inserter(impression), "{}", counter_++);
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  std::string path = fmt::format("/click?adId={}&impressionId={}&signature={}", ad, impression,
                                 signer_.sign(ad, impression, now_s + options_.ttl_s));
  if (corrupt) corrupt_mac(path);
  return path;
}

std::string click_source::next(click_kind& kind) {
  const double u =
      options_.dup_fraction > 0 || options_.invalid_fraction > 0 ? rng_.uniform() : 1.0;
  if (u < options_.dup_fraction && !remembered_.empty()) {
    kind = click_kind::duplicate;
    return remembered_[rng_.next() % remembered_.size()];
  }
  if (u >= options_.dup_fraction && u < options_.dup_fraction + options_.invalid_fraction) {
    kind = click_kind::invalid;
    return fresh(true);
  }
  kind = click_kind::fresh;
  std::string path = fresh(false);
  if (options_.dup_fraction > 0) {
    if (remembered_.size() < kRememberedClicks) {
      remembered_.push_back(path);
    } else {
      remembered_[remembered_next_] = path;
      remembered_next_ = (remembered_next_ + 1) % kRememberedClicks;
    }
  }
  return path;
}

void corrupt_mac(std::string& path) {
  const auto dot = path.rfind('.');
  if (dot == std::string::npos || dot + 1 >= path.size()) return;
  char& c = path[dot + 1];
  // The first MAC character alone carries the top 6 bits of the first MAC
  // byte, so changing it always changes the MAC and never its well-formedness.
  c = c == 'A' ? 'B' : 'A';
}

}  // namespace adclick::bench
