#include "base/base64.h"

#include <array>
#include <cstdint>

namespace adclick::base {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Symbol -> 6-bit value, -1 for anything else.
using decode_table = std::array<std::int8_t, 256>;
constexpr decode_table make_table(const char* alphabet) {
  decode_table t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr decode_table kStandardTable = make_table(kStandard);
constexpr decode_table kUrlTable = make_table(kUrl);

// Decodes unpadded symbols, appending bytes through put; false on a
// foreign symbol or nonzero unused bits.
template <typename Put>
bool decode_symbols(std::string_view text, const decode_table& table, Put put) {
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const std::int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      put(static_cast<char>((acc >> bits) & 0xffU));
    }
  }
  return (acc & ((1U << bits) - 1)) == 0;
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  text.remove_suffix(padding);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  // A stray '=' inside is a foreign symbol to the table.
  if (!decode_symbols(text, kStandardTable, [&](char b) { out.push_back(b); })) return std::nullopt;
  return out;
}

std::string encode_base64url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kUrl[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kUrl[(acc << (6 - bits)) & 63]);
  return out;
}

bool decode_base64url(std::string_view text, unsigned char* out, std::size_t n) {
  // Unpadded: 4 symbols per 3 bytes, the last group 2 or 3 symbols.
  if (text.size() != (n * 4 + 2) / 3) return false;
  std::size_t got = 0;
  return decode_symbols(text, kUrlTable, [&](char b) {
           if (got < n) out[got] = static_cast<unsigned char>(b);
           ++got;
         }) &&
         got == n;
}

}  // namespace adclick::base
