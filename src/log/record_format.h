#pragma once
// On-disk format of the log: segment header, record frames, the click payload
// and the segment index file. Writer, readers, recovery and `log inspect` all
// include this one header.
//
// Segment file  <data_dir>/log/p<NNNN>/<base offset, 20 digits>.seg
//   segment header (32 bytes)
//     0  char[8]  magic "ADCKSEG1"
//     8  u32      format version (1)
//    12  u32      partition
//    16  u64      base offset (offset of the first record in this file)
//    24  u32      reserved, 0
//    28  u32      checksum: low 32 bits of XXH3-64 over bytes [0, 28)
//   then record frames, back to back:
//     0  u32      checksum: low 32 bits of XXH3-64 over bytes [4, 17 + length),
//                 i.e. it covers length, type, offset and payload
//     4  u32      payload length (<= kMaxPayload)
//     8  u8       type (kTypeClick)
//     9  u64      offset (dense per partition)
//    17  payload
//   All integers little-endian. Records never span segments.
//
// Click payload, version 1
//     0  u8   version (1)
//     1  i64  event time, Unix ms
//     9  u64  ad id
//    17  i64  signature expiry, Unix s
//    25  u8   key id length k (<= 32), then k bytes
//        u8   impression id length n (1..128), then n bytes
//        u8   address family (0, 4 or 6), then 0, 4 or 16 bytes
//        u16  user agent length u (<= 256), then u bytes
//   The payload must be consumed exactly.
//
// Index file  <base offset>.idx, written once when a segment is sealed:
//     0  char[8]  magic "ADCKIDX1"
//     8  u32      format version (1)
//    12  u32      partition
//    16  u64      base offset
//    24  u64      end offset (one past the last record)
//    32  u64      record count
//    40  i64      min event time (ms)
//    48  i64      max event time (ms)
//    56  u64      data size: bytes of the segment file that hold records
//    64  u32      sparse entries n, then n × (u64 offset, u64 file position)
//        u32      checksum: low 32 bits of XXH3-64 over everything before it

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <vector>

#include "adclick/click_log.h"
#include "adclick/click_record.h"
#include "base/bytes.h"
#include "base/checksum.h"

namespace adclick::log::format {

inline constexpr char kSegmentMagic[8] = {'A', 'D', 'C', 'K', 'S', 'E', 'G', '1'};
inline constexpr char kIndexMagic[8] = {'A', 'D', 'C', 'K', 'I', 'D', 'X', '1'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderSize = 32;

inline constexpr std::size_t kFrameHeaderSize = 17;
inline constexpr std::size_t kFrameLengthPos = 4;
inline constexpr std::size_t kFrameTypePos = 8;
inline constexpr std::size_t kFrameOffsetPos = 9;
inline constexpr std::uint8_t kTypeClick = 1;

inline constexpr std::uint8_t kClickPayloadVersion = 1;
// version, event time, ad id, expiry, three length/family bytes, user agent length
inline constexpr std::size_t kMinClickPayload = 1 + 8 + 8 + 8 + 1 + 1 + 1 + 2;
inline constexpr std::size_t kMaxClickPayload =
    kMinClickPayload + kMaxKeyIdLength + kMaxImpressionIdLength + 16 + kMaxUserAgentLength;
// No frame may claim a larger payload; a larger length is corruption.
inline constexpr std::size_t kMaxPayload = kMaxClickPayload;
inline constexpr std::size_t kMaxFrameSize = kFrameHeaderSize + kMaxPayload;

// Event time sits at a fixed place in every click payload, so the writer can
// index segments by time without decoding whole records.
inline constexpr std::size_t kPayloadEventTimePos = 1;

// Index: a sparse entry at least every this many bytes of records.
inline constexpr std::uint64_t kIndexInterval = 64 * 1024;

// --- frames -------------------------------------------------------------------
// Appends a click frame to `out` with offset and checksum left zero: the log's
// flusher assigns the offset when it writes the frame, then seals it with
// seal_frame(). Returns false (and appends nothing) if the record breaks a
// limit of the encoding.
[[nodiscard]] bool append_click_frame(std::string& out, const click_record& r);

// Writes `offset` into the frame at `frame` and computes its checksum.
void seal_frame(char* frame, std::uint64_t offset);

// Total frame size of the frame starting at `frame` (header + payload).
inline std::size_t frame_size(const char* frame) {
  return kFrameHeaderSize + base::get_u32(frame + kFrameLengthPos);
}

enum class frame_check { ok, truncated, bad_header, bad_checksum };

// Validates the frame at `p` with `avail` bytes available. On ok, `size` is the
// whole frame size.
frame_check check_frame(const char* p, std::size_t avail, std::size_t& size);

// Decodes a click payload (the bytes after the frame header). False if the
// payload is malformed.
[[nodiscard]] bool decode_click(std::string_view payload, click_view& out);

// --- segment header -----------------------------------------------------------
void encode_segment_header(char* out, std::uint32_t partition, std::uint64_t base_offset);
// False if magic, version or checksum do not match.
[[nodiscard]] bool decode_segment_header(const char* p, std::uint32_t& partition,
                                         std::uint64_t& base_offset);

// File names.
std::string segment_file_name(std::uint64_t base_offset);
// Parses "<20 digits><ext>" (ext ".seg" or ".idx"); false for any other name.
[[nodiscard]] bool parse_segment_file_name(std::string_view name, std::string_view ext,
                                           std::uint64_t& base_offset);
// The LOG_META file: "adclick-log format=1 partitions=N\n".
std::string log_meta_text(std::uint32_t partitions);
// <log dir>/HOLES: the known offset holes of every partition. Text, one line
// per hole, "hole P FROM TO AFTER_EVENT_MS|- FOUND_MS", between a version
// line and an "end N CHECKSUM" line whose checksum (checksum32, hex) covers
// every byte before it. Rewritten whole (write_file_durably) when a hole is
// found.
inline constexpr const char* kHolesFile = "HOLES";
std::string holes_text(const std::vector<offset_hole>& holes);
// False when the text is damaged (any line, the count or the checksum).
[[nodiscard]] bool parse_holes(std::string_view text, std::vector<offset_hole>& holes);
[[nodiscard]] bool parse_log_meta(std::string_view text, std::uint32_t& partitions);
std::string index_file_name(std::uint64_t base_offset);
std::string partition_dir_name(std::uint32_t partition);

}  // namespace adclick::log::format

// --- commit journal ---------------------------------------------------------------
// <log dir>/journal/<first sequence, 20 digits>.jnl holds one record per group
// commit (sync durability), written and fdatasync'd once for all partitions:
//     0  u32  checksum: low 32 bits of XXH3-64 over bytes [4, 20 + length)
//     4  u32  length: bytes after this 20-byte header
//     8  u64  sequence (consecutive)
//    16  u32  chunk count n
//   then n × (u32 partition, u64 first offset, u32 records, u32 bytes)
//   then the chunks' sealed record frames, concatenated in that order.
// Segment files are then only fdatasync'd at checkpoints; recovery copies
// from the journal whatever a segment lost.
namespace adclick::log::format {
inline constexpr std::size_t kJournalHeaderSize = 20;
inline constexpr std::size_t kJournalChunkSize = 20;
}  // namespace adclick::log::format
