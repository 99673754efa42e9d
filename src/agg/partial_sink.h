#pragma once
// Where the shards of a node in a cluster (log.backend = "kafka") publish
// what they counted: absolute partial counts per (partition, adId, minute,
// kind), then one mark per partition that closes the flush. The counts
// topic's materializers apply a partition's flush only once its mark has
// arrived, so what they hold of a partition is always one whole flush.
//
// A shard publishes before it commits to RocksDB: a crash in between makes
// the next owner replay from the offsets committed (or materialized) and
// publish the same values again, which overwrite.

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "base/mutex.h"
#include "state/state_format.h"

namespace adclick::agg {

struct partial_count {
  std::uint32_t partition = 0;
  std::uint64_t ad_id = 0;
  std::int64_t minute = 0;
  state::tally_kind kind = state::tally_kind::clicks;
  std::uint64_t value = 0;    // absolute: every record of the partition below `version`
  std::uint64_t version = 0;  // the partition's offset after the flush
};

struct flush_mark {
  std::uint32_t partition = 0;
  std::uint64_t version = 0;       // the partition's offset after the flush
  std::int64_t watermark_ms = 0;   // the publishing shard's
};

// A partial of a source that is not a partition: a front end's outcome
// tallies ("n:<node id>") or the batch layer's corrections ("r"). Each
// stands alone: the one with the higher version wins, cell by cell.
struct source_partial {
  std::string source;
  std::uint64_t ad_id = 0;
  std::int64_t minute = 0;
  state::tally_kind kind = state::tally_kind::clicks;
  std::uint64_t value = 0;
  std::uint64_t version = 0;
};

class partial_sink {
 public:
  virtual ~partial_sink() = default;
  // Publishes the partials, then the marks, and returns once every one is
  // acknowledged (or with the first error: then nothing may be assumed, and
  // the shard publishes the same flush again).
  [[nodiscard]] virtual std::error_code publish(const std::vector<partial_count>& partials,
                                                const std::vector<flush_mark>& marks) = 0;
  // The same for partials of other sources.
  [[nodiscard]] virtual std::error_code publish(const std::vector<source_partial>& partials) = 0;
};

// The source of the batch layer's corrections: every node's reconciler
// publishes under it (each value makes the minute's sum the recounted one).
inline constexpr const char* kCorrectionSource = "r";
// The source of a front end's outcome tallies.
inline std::string node_source(const std::string& node_id) { return "n:" + node_id; }

// The name a partition's partials carry (the partials family's source).
inline std::string partition_source(std::uint32_t partition) { return "p" + std::to_string(partition); }

// Held by whoever reads partials, sums them into a counts row and writes
// them back: the shards and the materializer of one node.
struct partials_lock {
  base::mutex mu;
};

}  // namespace adclick::agg
