#include "kafka/kafka_errc.h"

#include <librdkafka/rdkafka.h>

#include <string>

namespace adclick::kafka {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.kafka"; }
  std::string message(int c) const override {
    return std::string("kafka: ") + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(c));
  }
};

}  // namespace

const std::error_category& kafka_category() noexcept {
  static const category kCategory;
  return kCategory;
}

}  // namespace adclick::kafka
