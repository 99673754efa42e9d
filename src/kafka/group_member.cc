#include "kafka/group_member.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace adclick::kafka {
namespace {

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list, void* opaque) {
  std::vector<log::partition_id> partitions;
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    partitions.push_back(static_cast<log::partition_id>(list->elems[i].partition));
  }
  std::sort(partitions.begin(), partitions.end());
  static_cast<group_member*>(opaque)->rebalance(static_cast<int>(err), partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Taken as the group gave it (the group protocol expects it), and
    // paused at once: records are not fetched through this handle.
    (void)rd_kafka_assign(rk, list);
    (void)rd_kafka_pause_partitions(rk, list);
  } else {
    (void)rd_kafka_assign(rk, nullptr);
  }
}

void member_callbacks(rd_kafka_conf_t* conf, void* /*opaque*/) {
  rd_kafka_conf_set_rebalance_cb(conf, &on_rebalance);
}

std::string describe(const std::vector<log::partition_id>& ps) {
  std::string out;
  for (auto p : ps) out += fmt::format("{}{}", out.empty() ? "" : ",", p);
  return out.empty() ? "none" : out;
}

}  // namespace

result<std::unique_ptr<group_member>> group_member::join(const group_options& o, group_listener l,
                                                         std::string& error_line) {
  std::unique_ptr<group_member> m(new group_member(o, std::move(l)));
  const std::vector<std::pair<std::string, std::string>> own = {
      {"group.id", o.group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"session.timeout.ms", std::to_string(o.session_timeout.count())},
      {"heartbeat.interval.ms", std::to_string(std::max<std::int64_t>(100, o.session_timeout.count() / 6))},
      {"partition.assignment.strategy", "range"},
      {"allow.auto.create.topics", "false"},
  };
  auto consumer = make_client(client_kind::consumer, o.client, own, &member_callbacks, m.get(), error_line);
  if (!consumer) return consumer.error();
  m->consumer_ = std::move(*consumer);
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> topics(
      rd_kafka_topic_partition_list_new(1), &rd_kafka_topic_partition_list_destroy);
  rd_kafka_topic_partition_list_add(topics.get(), o.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto err = rd_kafka_subscribe(m->consumer_.get(), topics.get())) {
    error_line = fmt::format("kafka: cannot join group \"{}\" on topic \"{}\": {}", o.group, o.topic,
                             rd_kafka_err2str(err));
    return std::make_error_code(std::errc::invalid_argument);
  }
  m->thread_ = std::thread([p = m.get()] { p->run(); });
  return m;
}

group_member::~group_member() { leave(); }

void group_member::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    // Serves the group's callbacks; no records come (nothing is assigned).
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100)) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka: group \"{}\": {}", options_.group, rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
  }
  // Leaving: the revocation callback runs inside close.
  (void)rd_kafka_consumer_close(consumer_.get());
}

void group_member::leave() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
}

void group_member::rebalance(int err, const std::vector<log::partition_id>& partitions) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("kafka: group \"{}\": assigned partitions {}", options_.group, describe(partitions));
    if (listener_.assigned) listener_.assigned(partitions);
    base::mutex_lock lk(mu_);
    assignment_ = partitions;
    return;
  }
  spdlog::info("kafka: group \"{}\": partitions {} revoked", options_.group, describe(partitions));
  {
    base::mutex_lock lk(mu_);
    assignment_.clear();
  }
  if (listener_.revoked) listener_.revoked(partitions);
}

std::vector<log::partition_id> group_member::assignment() const {
  base::mutex_lock lk(mu_);
  return assignment_;
}

}  // namespace adclick::kafka
