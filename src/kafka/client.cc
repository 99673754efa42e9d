#include "kafka/client.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <system_error>

namespace adclick::kafka {
namespace {

// librdkafka's syslog levels onto spdlog's. Its "error" level (3) is mostly
// a lost connection that it retries by itself: a warning here.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const auto lvl = level <= 2 ? spdlog::level::err : level <= 4 ? spdlog::level::warn
                                                   : level <= 6 ? spdlog::level::info
                                                                : spdlog::level::debug;
  spdlog::log(lvl, "kafka: {} {}: {}", rd_kafka_name(rk), facility, text);
}

}  // namespace

void handle_deleter::operator()(rd_kafka_s* rk) const noexcept { rd_kafka_destroy(rk); }
void topic_deleter::operator()(rd_kafka_topic_s* t) const noexcept { rd_kafka_topic_destroy(t); }

result<handle> make_client(client_kind kind, const client_settings& s,
                           const std::vector<std::pair<std::string, std::string>>& own,
                           void (*customize)(rd_kafka_conf_s*, void*), void* opaque,
                           std::string& error_line) {
  std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)> conf(rd_kafka_conf_new(),
                                                                     &rd_kafka_conf_destroy);
  char why[512] = {0};
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", s.bootstrap_servers},
                                                          {"client.id", s.client_id}};
  all.insert(all.end(), own.begin(), own.end());
  all.insert(all.end(), s.properties.begin(), s.properties.end());
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), why, sizeof why) != RD_KAFKA_CONF_OK) {
      error_line = fmt::format("kafka: property {}: {}", name, why);
      return std::make_error_code(std::errc::invalid_argument);
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), &log_line);
  if (customize != nullptr) customize(conf.get(), opaque);
  rd_kafka_conf_set_opaque(conf.get(), opaque);
  rd_kafka_t* rk = rd_kafka_new(kind == client_kind::producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER,
                                conf.get(), why, sizeof why);
  if (rk == nullptr) {
    error_line = fmt::format("kafka: cannot create a client: {}", why);
    return std::make_error_code(std::errc::invalid_argument);
  }
  (void)conf.release();  // rd_kafka_new owns it now
  return handle(rk);
}

}  // namespace adclick::kafka
