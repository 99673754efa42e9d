// The log as it is found on disk after a crash: the input becomes a segment
// file, or a commit journal, or both (the first byte picks), in a fresh log
// directory on the real file system. Then `log inspect` reads it, the log
// opens it (recovery: scan, torn-tail cut, journal replay, index rebuild)
// and a reader delivers every record it kept. Offsets must rise, and
// whatever the log keeps must decode.

#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_support.h"
#include "log/inspect.h"
#include "log/record_format.h"
#include "log/segmented_log.h"

using namespace adclick;
namespace fmtl = adclick::log::format;

namespace {

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  fuzz::require(out.good(), "scratch file written");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0] % 4;
  std::string_view rest = fuzz::as_text(data + 1, size - 1);
  const std::string dir = fuzz::scratch_dir() + "/log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/p0000");
  std::filesystem::create_directories(dir + "/journal");
  write_file(dir + "/LOG_META", fmtl::log_meta_text(1));

  // Modes 0 and 2 give the segment a valid header, so that the fuzzer's
  // bytes reach the frames; mode 1 takes the header from the input too.
  std::string segment;
  std::string_view journal;
  if (mode == 3) {  // both: the first half is the segment's frames
    const std::size_t half = rest.size() / 2;
    journal = rest.substr(half);
    rest = rest.substr(0, half);
  }
  if (mode != 1) {
    segment.resize(fmtl::kSegmentHeaderSize);
    fmtl::encode_segment_header(segment.data(), 0, 0);
  }
  if (mode == 2) {
    journal = rest;
    rest = {};
  }
  segment.append(rest);
  write_file(dir + "/p0000/" + fmtl::segment_file_name(0), segment);
  if (!journal.empty()) write_file(dir + "/journal/commit-0.jnl", journal);

  (void)log::format_report(log::inspect_log(dir));

  log::log_options o;
  o.dir = dir;
  o.partitions = 1;
  o.mode = log::durability::sync;
  o.preallocate = 0;
  o.checkpoint_bytes = 64 << 10;  // the journal files' preallocation: small, for speed
  log::recovery_report report;
  std::string error_line;
  auto opened = log::segmented_log::open(o, report, error_line);
  if (!opened) {
    fuzz::require(!error_line.empty(), "a refused log says why");
    return 0;
  }
  auto& lg = **opened;
  auto reader = lg.open_reader(0, 0);
  log::offset_t next = lg.start_offset(0);
  std::uint64_t delivered = 0;
  for (;;) {
    auto n = reader->read(1024, [&](log::offset_t off, const click_view& v) {
      fuzz::require(off >= next, "offsets rise");
      fuzz::require(!v.impression_id.empty(), "a delivered record decoded");
      next = off + 1;
      ++delivered;
    });
    if (!n || *n == 0) break;
  }
  fuzz::require(next <= lg.durable_end(0), "nothing delivered past the durable end");
  (void)delivered;
  return 0;
}
