#pragma once
// Base64, strict: one text per byte string. Two alphabets:
//   standard (RFC 4648 section 4, padded with '='): signing keys in the config;
//   base64url (section 5, unpadded): the MACs in click links.
// Decoding refuses anything but the canonical text: other symbols, stray or
// missing padding, whitespace, and nonzero unused bits of the last symbol.
// (Stricter than OpenSSL's EVP_DecodeBlock, which skips whitespace and
// returns padding as zero bytes.)

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::base {

std::optional<std::string> decode_base64(std::string_view text);

std::string encode_base64url(std::string_view bytes);
// Decodes exactly n bytes into out; false unless text is the canonical
// unpadded base64url of n bytes. No allocation (the click path uses it).
bool decode_base64url(std::string_view text, unsigned char* out, std::size_t n);

}  // namespace adclick::base
