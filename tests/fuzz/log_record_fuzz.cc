// The log's decoders on bytes in memory: record frames walked back to back
// (check_frame, then decode_click on each good frame), the segment header,
// the index file, the LOG_META text and segment file names. A decoded click
// must keep every limit of the format, and re-encode to the same frame.

#include <string>
#include <vector>

#include "base/bytes.h"
#include "fuzz_support.h"
#include "log/record_format.h"
#include "log/segment.h"

using namespace adclick;
namespace fmtl = adclick::log::format;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  // Frames, resynchronising one byte on after a bad one (as the scanner does).
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t frame = 0;
    const auto check = fmtl::check_frame(bytes.data() + pos, bytes.size() - pos, frame);
    if (check != fmtl::frame_check::ok) {
      ++pos;
      continue;
    }
    fuzz::require(frame >= fmtl::kFrameHeaderSize && frame <= bytes.size() - pos, "frame size");
    const std::string_view payload(bytes.data() + pos + fmtl::kFrameHeaderSize,
                                   frame - fmtl::kFrameHeaderSize);
    click_view v;
    if (fmtl::decode_click(payload, v)) {
      fuzz::require(v.impression_id.size() >= 1 && v.impression_id.size() <= kMaxImpressionIdLength,
                    "impression id length");
      fuzz::require(v.key_id.size() <= kMaxKeyIdLength, "key id length");
      fuzz::require(v.user_agent.size() <= kMaxUserAgentLength, "user agent length");
      const click_record r = v.to_record();
      std::string again;
      fuzz::require(fmtl::append_click_frame(again, r), "a decoded click encodes");
      fmtl::seal_frame(again.data(), base::get_u64(bytes.data() + pos + fmtl::kFrameOffsetPos));
      fuzz::require(again == std::string_view(bytes.data() + pos, frame), "re-encodes to the same frame");
    }
    pos += frame;
  }

  if (bytes.size() >= fmtl::kSegmentHeaderSize) {
    std::uint32_t partition = 0;
    std::uint64_t base = 0;
    if (fmtl::decode_segment_header(bytes.data(), partition, base)) {
      char again[fmtl::kSegmentHeaderSize];
      fmtl::encode_segment_header(again, partition, base);
      fuzz::require(std::string_view(again, sizeof again) == std::string_view(bytes.data(), sizeof again),
                    "segment header round trip");
    }
  }
  log::segment_stats stats;
  std::vector<log::sparse_entry> index;
  if (log::decode_index(bytes, 0, 0, stats, index)) {
    fuzz::require(log::encode_index(0, 0, stats, index) == bytes, "index round trip");
  }
  std::uint32_t partitions = 0;
  if (fmtl::parse_log_meta(bytes, partitions)) {
    fuzz::require(partitions >= 1, "at least one partition");
  }
  std::uint64_t base_offset = 0;
  if (fmtl::parse_segment_file_name(bytes, ".seg", base_offset)) {
    fuzz::require(fmtl::segment_file_name(base_offset) == bytes, "file name round trip");
  }
  return 0;
}
