#pragma once
// Fixed-width little-endian integers in byte buffers: the one encoding every
// on-disk format of ours uses (log segments, journal, ads snapshot).

#include <cstdint>
#include <cstring>
#include <string>

namespace adclick::base {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the formats are little-endian");

inline void put_u16(char* p, std::uint16_t v) { std::memcpy(p, &v, 2); }
inline void put_u32(char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
inline void put_u64(char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
inline std::uint16_t get_u16(const char* p) { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
inline std::uint32_t get_u32(const char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
inline std::uint64_t get_u64(const char* p) { std::uint64_t v; std::memcpy(&v, p, 8); return v; }

// Appends v to out.
inline void append_u32(std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
inline void append_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

}  // namespace adclick::base
