#pragma once
// Each subsystem's options from the validated config: the one place that
// maps config fields to them.

#include <vector>

#include "adclick/result.h"
#include "agg/shard.h"
#include "config/config.h"
#include "http/server.h"
#include "ingest/front_end.h"
#include "kafka/counts_topic.h"
#include "kafka/group_member.h"
#include "kafka/kafka_log.h"
#include "log/log_options.h"
#include "query/query_service.h"
#include "recon/reconciler.h"

namespace adclick::state {
class store;
}

namespace adclick::app {

log::log_options log_options_from(const config::config& cfg);
// log.backend = "kafka": [kafka], [node] id (the client id), log.partitions
// and log.append_timeout.
kafka::kafka_log_options kafka_log_options_from(const config::config& cfg);
// The counts topic ([kafka] counts_topic) and the aggregators' group.
kafka::counts_options counts_options_from(const config::config& cfg);
kafka::group_options group_options_from(const config::config& cfg);
http::server_options server_options_from(const config::config& cfg);
// server.redirect_listen: plain HTTP, one thread, every request redirected to
// HTTPS on `https_port`. Only when cfg.server.redirect_listen is set.
http::server_options redirect_options_from(const config::config& cfg, std::uint16_t https_port);
ingest::front_end_options front_end_options_from(const config::config& cfg);
agg::shard_options shard_options_from(const config::config& cfg);
recon::reconciler_options recon_options_from(const config::config& cfg);
query::query_options query_options_from(const config::config& cfg);

// The shards' committed offsets, one per partition: the log must never give
// out an offset below them again (log_options::resume_floor).
result<std::vector<std::uint64_t>> committed_offsets(state::store& store, const config::config& cfg);

}  // namespace adclick::app
