#pragma once
// The click log as the rest of adclick sees it: P partitions of dense offsets,
// appends that complete once durable, readers that see only durable records
// and keep their own positions. Nothing here is beyond what a Kafka topic
// partition provides (offsets, offsetsForTimes-like segment times,
// deleteRecords-like retention floor, consumer poll with a timeout), so a
// Kafka-backed implementation can replace the segmented one.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>
#include <vector>

#include "adclick/click_record.h"
#include "adclick/result.h"

namespace adclick::log {

using partition_id = std::uint32_t;
using offset_t = std::uint64_t;

// Called exactly once per append, with the record's offset once it is durable
// (per the durability mode), or with the error when the append failed. On the
// log's thread (the flusher) for an append that was queued; inline, on the
// caller's thread before append() returns, for one refused at once (stopped,
// fenced, overloaded, a bad partition or record). It must not block: post
// the work elsewhere.
using append_handler = std::function<void(std::error_code, offset_t)>;

// A bad stretch of bytes that a reader or recovery skipped.
struct corruption {
  partition_id partition = 0;
  offset_t segment_base = 0;  // the segment file it is in
  std::uint64_t position = 0;  // byte position in that file
  std::uint64_t bytes_skipped = 0;
};

// Offsets of a partition that hold no record and never will: records that
// were lost before every consumer had read them (a power loss under
// durability "os", a damaged disk), whose offsets the log does not hand out
// again. Consumers and the batch layer must not take the missing records'
// minutes as checked.
struct offset_hole {
  partition_id partition = 0;
  offset_t from = 0;  // [from, to)
  offset_t to = 0;
  // Newest event time among the records kept before the hole (Unix ms);
  // INT64_MIN when none was kept. The lost records came after it, give or
  // take the click path's out-of-orderness.
  std::int64_t after_event_ms = INT64_MIN;
  std::int64_t found_ms = 0;  // when the log found it (Unix ms): the lost records are older

  friend bool operator==(const offset_hole&, const offset_hole&) = default;
};

// What a partition holds, segment by segment (oldest first).
struct segment_info {
  offset_t base_offset = 0;
  offset_t end_offset = 0;  // one past the last record
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::int64_t min_event_time_ms = 0;  // meaningless when records == 0
  std::int64_t max_event_time_ms = 0;
  bool sealed = false;
};

// Reads one partition from a position up to its durable end. Owned and used by
// one thread at a time.
class partition_reader {
 public:
  virtual ~partition_reader() = default;

  // Calls fn(offset, record) for up to max_records durable records from
  // position(), in offset order, and advances position(). The view is valid
  // only during the call. Skipped bad bytes are appended to *skipped (when not
  // null) and counted by the log. Returns the number of records delivered (0 at
  // the durable end), or an I/O error.
  virtual result<std::size_t> read(std::size_t max_records,
                                   const std::function<void(offset_t, const click_view&)>& fn,
                                   std::vector<corruption>* skipped = nullptr) = 0;

  // The offset of the next record this reader will deliver.
  virtual offset_t position() const = 0;
  // Moves the reader; offsets below the oldest retained one start at it.
  virtual void seek(offset_t offset) = 0;
};

class click_log {
 public:
  virtual ~click_log() = default;

  virtual std::uint32_t partitions() const = 0;

  // Appends asynchronously; any thread. The handler runs exactly once.
  virtual void append(partition_id p, const click_record& r, append_handler done) = 0;

  // Appends and blocks until durable (for tools and tests).
  result<offset_t> append_and_wait(partition_id p, const click_record& r);

  // One past the last durable record of p (0 when empty). Records below it are
  // readable; it never decreases while the log is open.
  virtual offset_t durable_end(partition_id p) const = 0;
  // The oldest offset still retained in p.
  virtual offset_t start_offset(partition_id p) const = 0;

  // A counter that changes whenever any partition's durable end advances.
  virtual std::uint64_t durable_generation() const = 0;
  // Blocks until durable_generation() != seen, the deadline passes, or the log
  // stops. Returns the current generation. Consumers call this instead of
  // polling.
  virtual std::uint64_t wait_durable(std::uint64_t seen,
                                     std::chrono::steady_clock::time_point deadline) const = 0;

  virtual std::unique_ptr<partition_reader> open_reader(partition_id p, offset_t from) = 0;

  // Segments of p with their offset and event-time ranges.
  virtual std::vector<segment_info> segments(partition_id p) const = 0;

  // The known holes of p (offset_hole), oldest first. A log that can lose no
  // acknowledged record has none.
  virtual std::vector<offset_hole> holes(partition_id /*p*/) const { return {}; }

  // Keeps retention from deleting records of p at or above `from` while the
  // returned token lives (a reconciliation reading them). Any thread. A log
  // that cannot pin returns null: its readers then see the records go, and
  // the reader's caller must notice the offsets it skipped.
  virtual std::shared_ptr<void> pin(partition_id /*p*/, offset_t /*from*/) { return nullptr; }

  // Records below `offset` in p may be deleted once retention allows
  // (set by the batch layer once it has covered them). Never lowers the mark.
  virtual void set_delete_floor(partition_id p, offset_t offset) = 0;
};

}  // namespace adclick::log
