#include "kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/kafka_errc.h"

namespace adclick::kafka {

result<std::unique_ptr<mock_cluster>> mock_cluster::start(int brokers, std::string& error_line) {
  // The owning handle never connects anywhere: it only hosts the cluster.
  auto owner = make_client(client_kind::producer, client_settings{"", {}, "adclick-mock"}, {{"log_level", "3"}}, nullptr,
                           nullptr, error_line);
  if (!owner) return owner.error();
  rd_kafka_mock_cluster_t* c = rd_kafka_mock_cluster_new(owner->get(), brokers);
  if (c == nullptr) {
    error_line = "kafka-mock: librdkafka could not start the mock cluster";
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  return std::unique_ptr<mock_cluster>(new mock_cluster(std::move(*owner), c, brokers));
}

mock_cluster::~mock_cluster() { rd_kafka_mock_cluster_destroy(cluster_); }

std::string mock_cluster::bootstrap_servers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

std::error_code mock_cluster::create_topic(const std::string& name, int partitions, int replication) {
  const auto err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication);
  return err ? make_kafka_error(err) : std::error_code();
}

std::error_code mock_cluster::set_broker_down(int broker) {
  const auto err = rd_kafka_mock_broker_set_down(cluster_, broker);
  return err ? make_kafka_error(err) : std::error_code();
}

std::error_code mock_cluster::set_broker_up(int broker) {
  const auto err = rd_kafka_mock_broker_set_up(cluster_, broker);
  return err ? make_kafka_error(err) : std::error_code();
}

std::error_code mock_cluster::set_leader(const std::string& topic, int partition, int broker) {
  const auto err = rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker);
  return err ? make_kafka_error(err) : std::error_code();
}

}  // namespace adclick::kafka
