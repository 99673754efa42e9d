#pragma once
// librdkafka handles as adclick makes them: adclick's own properties, then
// the user's ([kafka] properties), librdkafka's log lines into spdlog.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adclick/result.h"

struct rd_kafka_s;
struct rd_kafka_conf_s;
struct rd_kafka_topic_s;

namespace adclick::kafka {

struct handle_deleter {
  void operator()(rd_kafka_s* rk) const noexcept;
};
// Destroying a handle waits for its threads (producers: call flush or
// purge first, see kafka_log::stop()).
using handle = std::unique_ptr<rd_kafka_s, handle_deleter>;

struct topic_deleter {
  void operator()(rd_kafka_topic_s* t) const noexcept;
};
using topic_handle = std::unique_ptr<rd_kafka_topic_s, topic_deleter>;

// Where and how to connect: from [kafka] and [node].
struct client_settings {
  std::string bootstrap_servers;
  std::map<std::string, std::string> properties;  // the user's, applied last
  std::string client_id = "adclick";
};

enum class client_kind { producer, consumer };

// Builds a handle: `own` (adclick's properties for this use) first, the
// user's properties after them; `customize` may install callbacks on the
// conf before the handle is made. On failure, error_line says which
// property or what librdkafka refused.
[[nodiscard]] result<handle> make_client(client_kind kind, const client_settings& s,
                                         const std::vector<std::pair<std::string, std::string>>& own,
                                         void (*customize)(rd_kafka_conf_s*, void*), void* opaque,
                                         std::string& error_line);

}  // namespace adclick::kafka
