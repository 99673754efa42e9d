#include "log/record_format.h"

#include <charconv>

#include <fmt/format.h>

#include "base/bytes.h"
#include "base/checksum.h"

namespace adclick::log::format {

bool append_click_frame(std::string& out, const click_record& r) {
  if (r.key_id.size() > kMaxKeyIdLength || r.impression_id.empty() ||
      r.impression_id.size() > kMaxImpressionIdLength ||
      r.user_agent.size() > kMaxUserAgentLength ||
      (r.client.family != 0 && r.client.family != 4 && r.client.family != 6)) {
    return false;
  }
  const std::size_t addr_len = r.client.family == 4 ? 4 : r.client.family == 6 ? 16 : 0;
  const std::size_t payload = kMinClickPayload + r.key_id.size() + r.impression_id.size() +
                              addr_len + r.user_agent.size();
  const std::size_t start = out.size();
  out.resize(start + kFrameHeaderSize + payload);
  char* f = out.data() + start;
  base::put_u32(f, 0);
  base::put_u32(f + kFrameLengthPos, static_cast<std::uint32_t>(payload));
  f[kFrameTypePos] = static_cast<char>(kTypeClick);
  base::put_u64(f + kFrameOffsetPos, 0);
  char* p = f + kFrameHeaderSize;
  *p++ = static_cast<char>(kClickPayloadVersion);
  base::put_u64(p, static_cast<std::uint64_t>(r.event_time_ms)), p += 8;
  base::put_u64(p, r.ad_id), p += 8;
  base::put_u64(p, static_cast<std::uint64_t>(r.expires_at_s)), p += 8;
  *p++ = static_cast<char>(r.key_id.size());
  std::memcpy(p, r.key_id.data(), r.key_id.size()), p += r.key_id.size();
  *p++ = static_cast<char>(r.impression_id.size());
  std::memcpy(p, r.impression_id.data(), r.impression_id.size()), p += r.impression_id.size();
  *p++ = static_cast<char>(r.client.family);
  std::memcpy(p, r.client.bytes.data(), addr_len), p += addr_len;
  base::put_u16(p, static_cast<std::uint16_t>(r.user_agent.size())), p += 2;
  std::memcpy(p, r.user_agent.data(), r.user_agent.size());
  return true;
}

void seal_frame(char* frame, std::uint64_t offset) {
  base::put_u64(frame + kFrameOffsetPos, offset);
  const std::size_t n = frame_size(frame);
  base::put_u32(frame, base::checksum32(frame + kFrameLengthPos, n - kFrameLengthPos));
}

frame_check check_frame(const char* p, std::size_t avail, std::size_t& size) {
  if (avail < kFrameHeaderSize) return frame_check::truncated;
  const std::uint32_t len = base::get_u32(p + kFrameLengthPos);
  if (static_cast<std::uint8_t>(p[kFrameTypePos]) != kTypeClick || len < kMinClickPayload ||
      len > kMaxPayload) {
    return frame_check::bad_header;
  }
  size = kFrameHeaderSize + len;
  if (avail < size) return frame_check::truncated;
  if (base::checksum32(p + kFrameLengthPos, size - kFrameLengthPos) != base::get_u32(p)) {
    return frame_check::bad_checksum;
  }
  return frame_check::ok;
}

bool decode_click(std::string_view payload, click_view& out) {
  const char* p = payload.data();
  const char* const end = p + payload.size();
  auto have = [&](std::size_t n) { return static_cast<std::size_t>(end - p) >= n; };
  if (!have(1 + 8 + 8 + 8 + 1) || static_cast<std::uint8_t>(*p) != kClickPayloadVersion) {
    return false;
  }
  ++p;
  out.event_time_ms = static_cast<std::int64_t>(base::get_u64(p)), p += 8;
  out.ad_id = base::get_u64(p), p += 8;
  out.expires_at_s = static_cast<std::int64_t>(base::get_u64(p)), p += 8;
  const std::size_t kid_len = static_cast<std::uint8_t>(*p++);
  if (kid_len > kMaxKeyIdLength || !have(kid_len + 1)) return false;
  out.key_id = std::string_view(p, kid_len), p += kid_len;
  const std::size_t imp_len = static_cast<std::uint8_t>(*p++);
  if (imp_len == 0 || imp_len > kMaxImpressionIdLength || !have(imp_len + 1)) return false;
  out.impression_id = std::string_view(p, imp_len), p += imp_len;
  out.client.family = static_cast<std::uint8_t>(*p++);
  std::size_t addr_len = 0;
  if (out.client.family == 4) {
    addr_len = 4;
  } else if (out.client.family == 6) {
    addr_len = 16;
  } else if (out.client.family != 0) {
    return false;
  }
  if (!have(addr_len + 2)) return false;
  out.client.bytes = {};
  std::memcpy(out.client.bytes.data(), p, addr_len), p += addr_len;
  const std::size_t ua_len = base::get_u16(p);
  p += 2;
  if (ua_len > kMaxUserAgentLength || static_cast<std::size_t>(end - p) != ua_len) return false;
  out.user_agent = std::string_view(p, ua_len);
  return true;
}

void encode_segment_header(char* out, std::uint32_t partition, std::uint64_t base_offset) {
  std::memcpy(out, kSegmentMagic, 8);
  base::put_u32(out + 8, kFormatVersion);
  base::put_u32(out + 12, partition);
  base::put_u64(out + 16, base_offset);
  base::put_u32(out + 24, 0);
  base::put_u32(out + 28, base::checksum32(out, 28));
}

bool decode_segment_header(const char* p, std::uint32_t& partition, std::uint64_t& base_offset) {
  if (std::memcmp(p, kSegmentMagic, 8) != 0 || base::get_u32(p + 8) != kFormatVersion ||
      base::get_u32(p + 24) != 0 || base::get_u32(p + 28) != base::checksum32(p, 28)) {
    return false;
  }
  partition = base::get_u32(p + 12);
  base_offset = base::get_u64(p + 16);
  return true;
}

std::string segment_file_name(std::uint64_t base_offset) {
  return fmt::format("{:020d}.seg", base_offset);
}
bool parse_segment_file_name(std::string_view name, std::string_view ext, std::uint64_t& base_offset) {
  if (name.size() != 20 + ext.size() || name.substr(20) != ext) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, base_offset);
  return ec == std::errc() && p == name.data() + 20;
}

std::string log_meta_text(std::uint32_t partitions) {
  return "adclick-log format=1 partitions=" + std::to_string(partitions) + "\n";
}

bool parse_log_meta(std::string_view text, std::uint32_t& partitions) {
  constexpr std::string_view prefix = "adclick-log format=1 partitions=";
  if (text.size() < prefix.size() + 2 || text.substr(0, prefix.size()) != prefix || text.back() != '\n') {
    return false;
  }
  const char* b = text.data() + prefix.size();
  const char* e = text.data() + text.size() - 1;
  auto [p, ec] = std::from_chars(b, e, partitions);
  return ec == std::errc() && p == e && partitions > 0;
}

namespace {
constexpr std::string_view kHolesVersion = "adclick-log-holes format=1\n";

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const auto sp = line.find(' ');
    out.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return out;
}
}  // namespace

std::string holes_text(const std::vector<offset_hole>& holes) {
  std::string out(kHolesVersion);
  for (const auto& h : holes) {
    out += fmt::format("hole {} {} {} {} {}\n", h.partition, h.from, h.to,
                       h.after_event_ms == INT64_MIN ? std::string("-") : std::to_string(h.after_event_ms),
                       h.found_ms);
  }
  out += fmt::format("end {} {:08x}\n", holes.size(), base::checksum32(out.data(), out.size()));
  return out;
}

bool parse_holes(std::string_view text, std::vector<offset_hole>& holes) {
  holes.clear();
  if (!text.starts_with(kHolesVersion) || !text.ends_with('\n')) return false;
  const auto end_pos = text.rfind("end ");
  if (end_pos == std::string_view::npos || (end_pos > 0 && text[end_pos - 1] != '\n')) return false;
  const auto tail = split_words(text.substr(end_pos, text.size() - end_pos - 1));
  std::size_t count = 0;
  std::uint32_t sum = 0;
  if (tail.size() != 3 || !parse_number(tail[1], count) || tail[2].size() != 8) return false;
  {
    auto [p, ec] = std::from_chars(tail[2].data(), tail[2].data() + 8, sum, 16);
    if (ec != std::errc() || p != tail[2].data() + 8) return false;
  }
  if (base::checksum32(text.data(), end_pos) != sum) return false;
  std::string_view body = text.substr(kHolesVersion.size(), end_pos - kHolesVersion.size());
  while (!body.empty()) {
    const auto nl = body.find('\n');
    if (nl == std::string_view::npos) return false;
    const auto w = split_words(body.substr(0, nl));
    body.remove_prefix(nl + 1);
    offset_hole h;
    if (w.size() != 6 || w[0] != "hole" || !parse_number(w[1], h.partition) ||
        !parse_number(w[2], h.from) || !parse_number(w[3], h.to) || h.from >= h.to ||
        !(w[4] == "-" || parse_number(w[4], h.after_event_ms)) || !parse_number(w[5], h.found_ms)) {
      return false;
    }
    holes.push_back(h);
  }
  return holes.size() == count;
}

std::string index_file_name(std::uint64_t base_offset) {
  return fmt::format("{:020d}.idx", base_offset);
}
std::string partition_dir_name(std::uint32_t partition) {
  return fmt::format("p{:04d}", partition);
}

}  // namespace adclick::log::format
