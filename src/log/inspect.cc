#include "log/inspect.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "base/file_system.h"
#include "base/rfc3339.h"
#include "log/record_format.h"
#include "log/segment.h"

namespace adclick::log {
namespace {

void inspect_segment(base::file_system& fs, const std::string& dir, partition_id p, offset_t base,
                     bool newest, segment_report& out) {
  out.partition = p;
  out.base_offset = base;
  out.end_offset = base;
  auto seg = segment::open(fs, dir, p, base, /*read_only=*/true);
  if (!seg) {
    out.problems.push_back(fmt::format("segment header: {}", seg.error().message()));
    return;
  }
  auto size = fs.size((*seg)->fd());
  if (!size) {
    out.problems.push_back(fmt::format("cannot stat: {}", size.error().message()));
    return;
  }
  out.bytes = *size;
  frame_scanner scanner(fs);
  scanner.reset((*seg)->fd(), format::kSegmentHeaderSize, *size);
  offset_t min_offset = base;
  click_view view;
  segment_stats st;
  st.end_offset = base;
  st.data_size = format::kSegmentHeaderSize;
  for (;;) {
    auto item = scanner.next(min_offset);
    if (!item) {
      out.problems.push_back(fmt::format("read error: {}", item.error().message()));
      return;
    }
    if (item->kind == frame_scanner::item::record) {
      if (!format::decode_click(item->payload, view)) {
        out.corruptions.push_back({p, base, item->position, item->frame_size});
      } else {
        st.add(item->offset, view.event_time_ms, item->position, item->frame_size);
      }
      min_offset = item->offset + 1;
    } else if (item->kind == frame_scanner::item::corrupt) {
      out.corruptions.push_back({p, base, item->position, item->skipped});
    } else {
      if (item->skipped > 0 && item->zero_tail) {
        out.preallocated_bytes = item->skipped;  // zeros written ahead of the data
      } else if (item->skipped > 0) {
        if (newest) {
          out.torn_tail_bytes = item->skipped;
        } else {
          out.corruptions.push_back({p, base, item->position, item->skipped});
        }
      }
      break;
    }
  }
  out.records = st.records;
  out.bytes = st.data_size;  // without preallocated zeros
  out.end_offset = st.end_offset;
  out.min_event_time_ms = st.min_event_time_ms;
  out.max_event_time_ms = st.max_event_time_ms;

  auto idx = base::read_file(fs, (*seg)->index_path());
  if (idx) {
    out.has_index = true;
    segment_stats is;
    std::vector<sparse_entry> entries;
    if (!decode_index(*idx, p, base, is, entries)) {
      out.problems.push_back("index file damaged (checksum or header)");
    } else if (out.corruptions.empty() &&
               (is.records != st.records || is.end_offset != st.end_offset ||
                is.data_size != st.data_size)) {
      out.problems.push_back(fmt::format(
          "index says {} records up to offset {} in {} bytes, the segment holds {} up to {} in {}",
          is.records, is.end_offset, is.data_size, st.records, st.end_offset, st.data_size));
    }
  }
}

}  // namespace

bool inspect_report::clean() const {
  if (!problems.empty() || corrupt_stretches > 0) return false;
  return std::all_of(segments.begin(), segments.end(),
                     [](const segment_report& s) { return s.problems.empty(); });
}

inspect_report inspect_log(const std::string& dir) {
  inspect_report r;
  base::file_system& fs = base::posix_file_system();
  auto meta = base::read_file(fs, dir + "/LOG_META");
  if (!meta) {
    r.problems.push_back(fmt::format("{}/LOG_META: {} (is this a log directory? it is "
                                     "<data_dir>/log)",
                                     dir, meta.error().message()));
    return r;
  }
  std::uint32_t partitions = 0;
  if (!format::parse_log_meta(*meta, partitions)) {
    r.problems.push_back(fmt::format("{}/LOG_META is damaged", dir));
    return r;
  }
  r.partitions = partitions;
  if (auto text = base::read_file(fs, dir + "/" + format::kHolesFile)) {
    if (!format::parse_holes(*text, r.holes)) {
      r.problems.push_back(fmt::format("{}/{} (the record of lost offsets) is damaged", dir,
                                       format::kHolesFile));
    }
  } else if (text.error() != std::errc::no_such_file_or_directory) {
    r.problems.push_back(fmt::format("{}/{}: {}", dir, format::kHolesFile, text.error().message()));
  }
  for (partition_id p = 0; p < partitions; ++p) {
    const std::string pdir = dir + "/" + format::partition_dir_name(p);
    auto names = fs.list(pdir);
    if (!names) {
      if (names.error() != std::errc::no_such_file_or_directory) {
        r.problems.push_back(fmt::format("{}: {}", pdir, names.error().message()));
      }
      continue;
    }
    std::vector<offset_t> bases;
    for (const auto& n : *names) {
      offset_t base = 0;
      if (format::parse_segment_file_name(n, ".seg", base)) {
        bases.push_back(base);
      } else if (!format::parse_segment_file_name(n, ".idx", base)) {
        r.problems.push_back(fmt::format("{}/{}: unexpected file", pdir, n));
      }
    }
    std::sort(bases.begin(), bases.end());
    offset_t prev_end = 0;
    for (std::size_t i = 0; i < bases.size(); ++i) {
      segment_report s;
      inspect_segment(fs, pdir, p, bases[i], i + 1 == bases.size(), s);
      if (i > 0 && bases[i] < prev_end) {
        s.problems.push_back(fmt::format("overlaps the previous segment (which ends at {})",
                                         prev_end));
      }
      if (i > 0 && bases[i] > prev_end) {
        const bool recorded = std::any_of(r.holes.begin(), r.holes.end(), [&](const offset_hole& h) {
          return h.partition == p && h.from <= prev_end && bases[i] <= h.to;
        });
        if (!recorded) {
          s.problems.push_back(fmt::format(
              "offsets {}..{} are missing before it and not recorded as a hole (the next open "
              "records them)",
              prev_end, bases[i] - 1));
        }
      }
      prev_end = s.end_offset;
      r.records += s.records;
      r.corrupt_stretches += s.corruptions.size();
      for (const auto& c : s.corruptions) r.corrupt_bytes += c.bytes_skipped;
      r.segments.push_back(std::move(s));
    }
  }
  return r;
}

std::string format_report(const inspect_report& r) {
  std::string out;
  if (r.partitions > 0) {
    out += fmt::format("{:>9} {:>20} {:>20} {:>10} {:>12} {:>24} {:>24} {:>5}\n", "partition",
                       "base_offset", "end_offset", "records", "bytes", "min_event_time",
                       "max_event_time", "index");
  }
  for (const auto& s : r.segments) {
    out += fmt::format("{:>9} {:>20} {:>20} {:>10} {:>12} {:>24} {:>24} {:>5}\n", s.partition,
                       s.base_offset, s.end_offset, s.records, s.bytes,
                       s.records ? base::format_time_ms(s.min_event_time_ms) : "-",
                       s.records ? base::format_time_ms(s.max_event_time_ms) : "-",
                       s.has_index ? "yes" : "no");
  }
  for (const auto& s : r.segments) {
    for (const auto& c : s.corruptions) {
      out += fmt::format(
          "CORRUPT partition {} segment {}: {} bad bytes at byte {} (checksum or framing)\n",
          c.partition, c.segment_base, c.bytes_skipped, c.position);
    }
    if (s.torn_tail_bytes > 0) {
      out += fmt::format(
          "note: partition {} segment {}: torn tail of {} bytes (an unfinished write; the next "
          "open cuts it)\n",
          s.partition, s.base_offset, s.torn_tail_bytes);
    }
    for (const auto& p : s.problems) {
      out += fmt::format("PROBLEM partition {} segment {}: {}\n", s.partition, s.base_offset, p);
    }
  }
  std::uint64_t lost = 0;
  for (const auto& h : r.holes) {
    lost += h.to - h.from;
    out += fmt::format(
        "HOLE partition {}: offsets {}..{} ({} records) were lost before the log was recovered "
        "at {}; the newest record kept before them is from {} (these offsets are never reused)\n",
        h.partition, h.from, h.to - 1, h.to - h.from, base::format_time_ms(h.found_ms),
        h.after_event_ms == INT64_MIN ? std::string("-") : base::format_time_ms(h.after_event_ms));
  }
  for (const auto& p : r.problems) out += fmt::format("PROBLEM {}\n", p);
  out += fmt::format(
      "{} partitions, {} segments, {} records, {} corrupt stretches ({} bytes), {} known holes "
      "({} records lost): {}\n",
      r.partitions, r.segments.size(), r.records, r.corrupt_stretches, r.corrupt_bytes,
      r.holes.size(), lost, r.clean() ? "clean" : "DAMAGED");
  return out;
}

}  // namespace adclick::log
