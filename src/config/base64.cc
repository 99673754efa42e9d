#include "config/base64.h"

#include <cstdint>

namespace adclick::config {
namespace {

// The 6-bit value of a base64 symbol, or -1.
int symbol_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> decode_base64_strict(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::size_t padding = 0;
    if (last && text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;

    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      int v = 0;
      if (j < 4 - padding) {
        v = symbol_value(text[i + j]);
        if (v < 0) return std::nullopt;  // includes a stray '='
      }
      group = (group << 6) | static_cast<std::uint32_t>(v);
    }
    // Canonical form: the bits that padding drops must be zero.
    if (padding == 1 && (group & 0xffU) != 0) return std::nullopt;
    if (padding == 2 && (group & 0xffffU) != 0) return std::nullopt;

    out.push_back(static_cast<char>((group >> 16) & 0xffU));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xffU));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xffU));
  }
  return out;
}

}  // namespace adclick::config
