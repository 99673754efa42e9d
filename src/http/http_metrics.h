#pragma once
// The HTTP server's gauges on /metrics: connections, responses by status
// class, timeouts. (Per-route counts are the API's.)

namespace adclick::base {
class metrics_registry;
}

namespace adclick::http {

class server;

// `s` must outlive every render of `m`.
void register_metrics(const server& s, base::metrics_registry& m);

}  // namespace adclick::http
