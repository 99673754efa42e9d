#include "http/stream_handle.h"

#include "http/server_state.h"

namespace adclick::http::detail {

bool stream_handle::write(std::string bytes) {
  if (closed()) return false;
  auto c = conn_.lock();
  if (!c) {
    mark_closed();
    return false;
  }
  const auto ex = c->executor();
  if (!worker_->post(ex, [c, bytes = std::move(bytes)]() mutable { c->stream_enqueue(std::move(bytes)); })) {
    mark_closed();
    return false;
  }
  return true;
}

void stream_handle::close() {
  if (closed_.exchange(true)) return;
  if (auto c = conn_.lock()) {
    const auto ex = c->executor();
    (void)worker_->post(ex, [c] { c->stream_close(); });
  }
}

}  // namespace adclick::http::detail
