#pragma once
// Strict decoding of standard base64 (RFC 4648 section 4, with padding), as
// used for signing keys in the config. Internal to adclick::config.

#include <optional>
#include <string>
#include <string_view>

namespace adclick::config {

// Returns the decoded bytes, or nullopt unless `text` is canonical base64:
// alphabet A-Z a-z 0-9 + /, length a multiple of 4, '=' only as the last one
// or two characters, unused bits of the last symbol zero, no whitespace.
// (Stricter than OpenSSL's EVP_DecodeBlock, which skips whitespace and
// returns padding as zero bytes: a key must mean exactly one byte string.)
std::optional<std::string> decode_base64_strict(std::string_view text);

}  // namespace adclick::config
