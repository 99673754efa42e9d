#pragma once
// Membership of one consumer group on the click topic: the group's
// coordinator shares the topic's partitions among the members, and this
// class tells its owner which partitions are this node's. It fetches no
// records itself (the owner reads its partitions through kafka_log's
// readers and keeps the offsets in its own RocksDB batches, so nothing is
// committed to Kafka).
//
// Rebalances are eager: every member gives up all its partitions
// (`revoked`, which must finish what it holds, e.g. a last flush, before it
// returns), then gets its new share (`assigned`). Both run on the member's
// own thread, one at a time. A member that stops, or whose process dies,
// loses its share to the others after the group's session timeout.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "adclick/click_log.h"
#include "base/mutex.h"
#include "kafka/client.h"

namespace adclick::kafka {

struct group_options {
  client_settings client;
  std::string topic = "clicks";
  std::string group = "adclick";
  // How long the coordinator waits for a silent member before its share
  // goes to the others (session.timeout.ms; the user's properties win).
  std::chrono::milliseconds session_timeout{std::chrono::seconds(6)};
};

struct group_listener {
  std::function<void(const std::vector<log::partition_id>&)> assigned;
  std::function<void(const std::vector<log::partition_id>&)> revoked;
};

class group_member {
 public:
  // Joins the group (the join completes in the background: see
  // assignment()). On failure error_line says why.
  [[nodiscard]] static result<std::unique_ptr<group_member>> join(const group_options& o, group_listener l,
                                                                  std::string& error_line);
  ~group_member();  // leave()
  group_member(const group_member&) = delete;
  group_member& operator=(const group_member&) = delete;

  // Revokes this member's share (the listener's `revoked` runs) and leaves
  // the group, so that the others take it over at once. Idempotent.
  void leave();

  // This member's partitions now, in order. Any thread.
  std::vector<log::partition_id> assignment() const;

  // For the rebalance callback.
  void rebalance(int err, const std::vector<log::partition_id>& partitions);

 private:
  group_member(const group_options& o, group_listener l) : options_(o), listener_(std::move(l)) {}
  void run();

  const group_options options_;
  const group_listener listener_;
  handle consumer_;
  std::atomic<bool> stop_{false};
  mutable base::mutex mu_;
  std::vector<log::partition_id> assignment_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace adclick::kafka
