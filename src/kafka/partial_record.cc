#include "kafka/partial_record.h"

#include <fmt/format.h>

#include "base/bytes.h"
#include "base/checksum.h"

namespace adclick::kafka {
namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kKeyFixed = 1 + 1 + 8 + 8 + 1;
constexpr std::size_t kValueSize = 1 + 8 + 8 + 4;

std::uint32_t checksum(std::string_view key, std::string_view value_head) {
  std::string all;
  all.reserve(key.size() + value_head.size());
  all.append(key).append(value_head);
  return base::checksum32(all.data(), all.size());
}

}  // namespace

std::string partition_source(std::uint32_t partition) { return fmt::format("p{}", partition); }
std::string node_source(std::string_view node_id) { return fmt::format("n:{}", node_id); }

bool encode_partial(const partial& p, std::string& key, std::string& value) {
  if (p.source.empty() || p.source.size() > kMaxSourceLength) return false;
  key.clear();
  key.push_back(static_cast<char>(kFormat));
  key.push_back(static_cast<char>(p.source.size()));
  key.append(p.source);
  base::append_u64(key, p.ad_id);
  base::append_u64(key, static_cast<std::uint64_t>(p.minute));
  key.push_back(static_cast<char>(p.kind));
  value.clear();
  value.push_back(static_cast<char>(kFormat));
  base::append_u64(value, p.value);
  base::append_u64(value, p.version);
  base::append_u32(value, checksum(key, value));
  return true;
}

bool decode_partial(std::string_view key, std::string_view value, partial& out) {
  if (key.size() < kKeyFixed || value.size() != kValueSize) return false;
  if (static_cast<std::uint8_t>(key[0]) != kFormat || static_cast<std::uint8_t>(value[0]) != kFormat) return false;
  const std::size_t s = static_cast<std::uint8_t>(key[1]);
  if (s == 0 || s > kMaxSourceLength || key.size() != kKeyFixed + s) return false;
  if (base::get_u32(value.data() + 17) != checksum(key, value.substr(0, 17))) return false;
  out.source.assign(key.substr(2, s));
  out.ad_id = base::get_u64(key.data() + 2 + s);
  out.minute = static_cast<std::int64_t>(base::get_u64(key.data() + 10 + s));
  out.kind = static_cast<std::uint8_t>(key[18 + s]);
  out.value = base::get_u64(value.data() + 1);
  out.version = base::get_u64(value.data() + 9);
  return true;
}

}  // namespace adclick::kafka
