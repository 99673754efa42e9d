#pragma once
// The checksums of our on-disk formats: XXH3-64, and its low 32 bits where a
// frame keeps four bytes for it. Not for keyed or adversarial hashing.

#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace adclick::base {

inline std::uint64_t checksum64(const void* data, std::size_t n) { return XXH3_64bits(data, n); }
inline std::uint32_t checksum32(const void* data, std::size_t n) {
  return static_cast<std::uint32_t>(XXH3_64bits(data, n));
}

}  // namespace adclick::base
