#pragma once
// librdkafka's mock cluster: brokers speaking the real Kafka protocol on
// loopback listeners, in this process, which clients in any process on the
// machine can use. For tests and demos (`adclick kafka-mock`), not a broker
// for production: it keeps records in memory only.

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "adclick/result.h"
#include "kafka/client.h"

struct rd_kafka_mock_cluster_s;

namespace adclick::kafka {

class mock_cluster {
 public:
  // Brokers are numbered 1..brokers.
  [[nodiscard]] static result<std::unique_ptr<mock_cluster>> start(int brokers, std::string& error_line);
  ~mock_cluster();
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;

  // "127.0.0.1:PORT,...": the value for kafka.bootstrap_servers.
  std::string bootstrap_servers() const;
  int brokers() const { return brokers_; }

  [[nodiscard]] std::error_code create_topic(const std::string& name, int partitions, int replication);
  // A broker that is down refuses connections and drops the ones it has.
  [[nodiscard]] std::error_code set_broker_down(int broker);
  [[nodiscard]] std::error_code set_broker_up(int broker);
  [[nodiscard]] std::error_code set_leader(const std::string& topic, int partition, int broker);

 private:
  mock_cluster(handle owner, rd_kafka_mock_cluster_s* cluster, int brokers)
      : owner_(std::move(owner)), cluster_(cluster), brokers_(brokers) {}

  handle owner_;  // the handle whose background thread runs the cluster
  rd_kafka_mock_cluster_s* cluster_;
  int brokers_;
};

}  // namespace adclick::kafka
