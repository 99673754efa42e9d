#include "http/response_slot.h"

#include <spdlog/spdlog.h>

namespace adclick::http::detail {

response_slot::~response_slot() {
  if (used_.load(std::memory_order_acquire)) return;
  try {
    conn_->count_handler_error();
    if (conn_->post_response(json_error(500, "internal", "the request was not answered"))) {
      spdlog::error("http: a handler dropped its responder without answering; sending 500");
    } else {
      spdlog::error("http: a handler dropped its responder without answering (server stopped)");
    }
  } catch (...) {  // a destructor must not throw; the connection then just closes
  }
}

void response_slot::respond(response r) {
  if (used_.exchange(true, std::memory_order_acq_rel)) {
    conn_->count_handler_error();
    spdlog::error("http: a responder was called more than once; the extra call is ignored");
    return;
  }
  conn_->post_response(std::move(r));
}

}  // namespace adclick::http::detail
