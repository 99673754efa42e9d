#pragma once
// librdkafka's error codes (rd_kafka_resp_err_t, broker errors and its own
// negative "__" ones) as std::error_code, in category "adclick.kafka".

#include <system_error>

namespace adclick::kafka {

const std::error_category& kafka_category() noexcept;

// `err` is an rd_kafka_resp_err_t.
inline std::error_code make_kafka_error(int err) noexcept { return {err, kafka_category()}; }

}  // namespace adclick::kafka
