#include "http/http_metrics.h"

#include "base/metrics.h"
#include "http/server.h"

namespace adclick::http {

void register_metrics(const server& s, base::metrics_registry& m) {
  m.add_gauge("adclick_ready", "1 while /readyz answers ready, else 0 (recovering, brokers silent, stopping)", "",
              [&s] { return s.ready() ? 1.0 : 0.0; });
  m.add_gauge("adclick_http_connections_open", "HTTP connections open now", "",
              [&s] { return static_cast<double>(s.stats().connections_open); });
  m.add_counter_fn("adclick_http_connections_accepted_total", "HTTP connections accepted", "",
                   [&s] { return static_cast<double>(s.stats().connections_accepted); });
  m.add_counter_fn("adclick_http_connections_refused_total",
                   "HTTP connections refused (server.max_connections)", "",
                   [&s] { return static_cast<double>(s.stats().connections_refused); });
  m.add_counter_family("adclick_http_responses_total", "HTTP responses by status class (all routes)", [&s] {
    const auto st = s.stats();
    return std::vector<std::pair<std::string, double>>{{"code=\"2xx\"", static_cast<double>(st.responses_2xx)},
                                                       {"code=\"3xx\"", static_cast<double>(st.responses_3xx)},
                                                       {"code=\"4xx\"", static_cast<double>(st.responses_4xx)},
                                                       {"code=\"5xx\"", static_cast<double>(st.responses_5xx)}};
  });
  m.add_counter_fn("adclick_http_timeouts_total", "Connections cut off by a header, body, idle or write timeout", "", [&s] {
    const auto st = s.stats();
    return static_cast<double>(st.request_timeouts + st.idle_timeouts + st.write_timeouts);
  });
}

}  // namespace adclick::http
