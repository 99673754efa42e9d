#include "api/auth.h"

#include <openssl/crypto.h>

namespace adclick::api {
namespace {

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

caller authenticate(const api_context& ctx, std::string_view header) {
  constexpr std::string_view bearer = "Bearer ";
  if (header.substr(0, bearer.size()) != bearer) return {};
  const std::string_view token = header.substr(bearer.size());
  if (token.empty()) return {};
  const credentials& tokens = ctx.tokens->get();
  if (equal_secret(token, tokens.admin_token)) return {caller::admin, {}};
  for (const auto& [adv, key] : tokens.advertiser_keys) {
    if (equal_secret(token, key)) return {caller::advertiser, adv};
  }
  return {};
}

}  // namespace adclick::api
