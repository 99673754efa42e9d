#include "ingest/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "base/base64.h"

namespace adclick::ingest {
namespace {

constexpr std::size_t kMacBytes = 32;
static_assert(sizeof(parsed_signature::mac_bytes) == kMacBytes);
constexpr std::size_t kMacChars = 43;  // unpadded base64url of 32 bytes
constexpr std::size_t kMaxKeyId = 32;

bool valid_kid_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// "v1\n{adId}\n{impressionId}\n{exp}" into buf; returns its length.
std::size_t signed_message(char* buf, std::size_t cap, std::uint64_t ad_id,
                           std::string_view impression_id, std::int64_t exp) {
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    const std::size_t k = std::min(s.size(), cap - n);
    std::memcpy(buf + n, s.data(), k);
    n += k;
  };
  char num[24];
  put("v1\n");
  put(std::string_view(num, static_cast<std::size_t>(std::to_chars(num, num + 24, ad_id).ptr - num)));
  put("\n");
  put(impression_id);
  put("\n");
  put(std::string_view(num, static_cast<std::size_t>(std::to_chars(num, num + 24, exp).ptr - num)));
  return n;
}

// A keyed HMAC context that is re-initialised (same key) for every message.
class hmac_ctx {
 public:
  explicit hmac_ctx(std::string_view key) {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ != nullptr ? EVP_MAC_CTX_new(mac_) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx_ == nullptr ||
        EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
      throw std::runtime_error("HMAC-SHA256 is not available from OpenSSL");
    }
  }
  ~hmac_ctx() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  hmac_ctx(const hmac_ctx&) = delete;
  hmac_ctx& operator=(const hmac_ctx&) = delete;

  void compute(std::string_view msg, unsigned char out[kMacBytes]) {
    std::size_t len = 0;
    // A null key re-uses the key set at construction.
    EVP_MAC_init(ctx_, nullptr, 0, nullptr);
    EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    EVP_MAC_final(ctx_, out, &len, kMacBytes);
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

bool decode_mac(std::string_view text, unsigned char out[kMacBytes]) {
  return text.size() == kMacChars && base::decode_base64url(text, out, kMacBytes);
}

}  // namespace

std::string_view to_string(signature_check c) {
  switch (c) {
    case signature_check::ok: return "ok";
    case signature_check::malformed: return "malformed";
    case signature_check::unknown_key: return "unknown_key";
    case signature_check::bad_mac: return "bad_mac";
    case signature_check::expired: return "expired";
    case signature_check::too_far: return "too_far";
  }
  return "?";
}

std::string new_impression_id() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(hex[b[i] >> 4]);
    s.push_back(hex[b[i] & 15]);
  }
  return s;
}

bool parse_signature(std::string_view sig, parsed_signature& out) {
  if (sig.size() < 3 || sig.substr(0, 3) != "v1.") return false;
  sig.remove_prefix(3);
  const auto dot1 = sig.find('.');
  if (dot1 == std::string_view::npos || dot1 == 0 || dot1 > kMaxKeyId) return false;
  out.key_id = sig.substr(0, dot1);
  for (char c : out.key_id) {
    if (!valid_kid_char(c)) return false;
  }
  sig.remove_prefix(dot1 + 1);
  const auto dot2 = sig.find('.');
  if (dot2 == std::string_view::npos || dot2 == 0 || dot2 > 18) return false;
  const std::string_view exp = sig.substr(0, dot2);
  if (exp.size() > 1 && exp[0] == '0') return false;  // one text per expiry
  auto [p, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), out.expires_at_s);
  if (ec != std::errc() || p != exp.data() + exp.size() || out.expires_at_s < 0) return false;
  out.mac = sig.substr(dot2 + 1);
  return decode_mac(out.mac, out.mac_bytes);
}

struct signer::key {
  std::string raw;
  // Unique in the process: names this key's per-thread HMAC contexts.
  std::uint64_t serial = 0;
};

signer::key_set signer::make_key_set(const std::map<std::string, std::string>& keys,
                                     const std::string& current_key, const key_set* before) {
  key_set set;
  set.current = current_key;
  for (const auto& [kid, raw] : keys) {
    static std::atomic<std::uint64_t> next_serial{1};
    auto k = std::make_unique<key>();
    k->raw = raw;
    // A key kept across a reload keeps its serial, and so each thread's
    // HMAC context for it.
    const key* same = before != nullptr ? find(*before, kid) : nullptr;
    k->serial = same != nullptr && same->raw == raw ? same->serial : next_serial.fetch_add(1);
    set.keys.emplace(kid, std::move(k));
  }
  return set;
}

signer::signer(const std::map<std::string, std::string>& keys, const std::string& current_key,
               std::int64_t max_validity_s)
    : keys_(make_key_set(keys, current_key, nullptr)), max_validity_s_(max_validity_s) {
  if (find(keys_.get(), keys_.get().current) == nullptr) {
    throw std::invalid_argument("signing.current_key names no configured key");
  }
}

signer::~signer() = default;

bool signer::replace_keys(const std::map<std::string, std::string>& keys,
                          const std::string& current_key) {
  if (keys.count(current_key) == 0) return false;
  keys_.publish(make_key_set(keys, current_key, &keys_.get()));
  return true;
}

const signer::key* signer::find(const key_set& set, std::string_view kid) {
  auto it = set.keys.find(kid);
  return it == set.keys.end() ? nullptr : it->second.get();
}

namespace {
// One HMAC context per thread and key (a context is not thread-safe).
hmac_ctx& thread_ctx(std::uint64_t key_serial, std::string_view raw) {
  thread_local std::unordered_map<std::uint64_t, std::unique_ptr<hmac_ctx>> ctxs;
  auto& slot = ctxs[key_serial];
  if (!slot) slot = std::make_unique<hmac_ctx>(raw);
  return *slot;
}
}  // namespace

signature_check signer::verify(std::uint64_t ad_id, std::string_view impression_id,
                               std::string_view sig, std::int64_t now_s,
                               parsed_signature* parsed) const {
  parsed_signature p;
  if (!parse_signature(sig, p)) return signature_check::malformed;
  if (parsed != nullptr) *parsed = p;
  const key* k = find(keys_.get(), p.key_id);
  if (k == nullptr) return signature_check::unknown_key;
  char msg[256];
  const std::size_t n = signed_message(msg, sizeof msg, ad_id, impression_id, p.expires_at_s);
  unsigned char want[kMacBytes];
  thread_ctx(k->serial, k->raw).compute(std::string_view(msg, n), want);
  if (CRYPTO_memcmp(p.mac_bytes, want, kMacBytes) != 0) return signature_check::bad_mac;
  // Time checks after the MAC: only a genuine signature learns about its expiry.
  if (p.expires_at_s < now_s) return signature_check::expired;
  if (p.expires_at_s - now_s > max_validity_s_) return signature_check::too_far;
  return signature_check::ok;
}

std::string signer::sign(std::uint64_t ad_id, std::string_view impression_id,
                         std::int64_t expires_at_s) const {
  const key_set& set = keys_.get();
  const key* k = find(set, set.current);
  char msg[256];
  const std::size_t n = signed_message(msg, sizeof msg, ad_id, impression_id, expires_at_s);
  unsigned char mac[kMacBytes];
  thread_ctx(k->serial, k->raw).compute(std::string_view(msg, n), mac);
  return "v1." + set.current + "." + std::to_string(expires_at_s) + "." +
         base::encode_base64url(std::string_view(reinterpret_cast<const char*>(mac), kMacBytes));
}

std::string click_mac(std::string_view raw_key, std::uint64_t ad_id,
                      std::string_view impression_id, std::int64_t expires_at_s) {
  hmac_ctx ctx(raw_key);
  char msg[256];
  const std::size_t n = signed_message(msg, sizeof msg, ad_id, impression_id, expires_at_s);
  unsigned char mac[kMacBytes];
  ctx.compute(std::string_view(msg, n), mac);
  return base::encode_base64url(std::string_view(reinterpret_cast<const char*>(mac), kMacBytes));
}

}  // namespace adclick::ingest
