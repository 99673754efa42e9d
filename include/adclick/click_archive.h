#pragma once
// Where the batch layer keeps sealed, reconciled stretches of the click log
// before retention deletes them, as the batch layer sees it. The segmented
// log's implementation copies segment files (log/archive.h); a Kafka-backed
// log would copy the same offset ranges from its topic (or rely on tiered
// storage and answer has() from it).

#include <system_error>

#include "adclick/click_log.h"

namespace adclick::log {

class click_archive {
 public:
  virtual ~click_archive() = default;

  // Whether the sealed segment of partition p starting at base_offset is
  // archived (durably). Any thread.
  virtual bool has(partition_id p, offset_t base_offset) const = 0;
  // Archives the sealed segment s of partition p; durable when it returns
  // without error. Archiving one segment twice is a no-op. Any thread.
  [[nodiscard]] virtual std::error_code add(partition_id p, const segment_info& s) = 0;
};

}  // namespace adclick::log
