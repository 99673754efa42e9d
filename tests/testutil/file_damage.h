#pragma once
// Damages a file on purpose, for tests of checksums.

#include <cstdint>
#include <fstream>
#include <string>

namespace adclick::testutil {

// Flips one bit (0x20) of the byte at `at`.
inline void flip_byte(const std::string& path, std::uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

}  // namespace adclick::testutil
