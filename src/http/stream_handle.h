#pragma once
// The handle a streamed response's handler writes through (see
// response::on_stream_open).

#include <atomic>
#include <memory>
#include <string>

#include "http/connection_base.h"
#include "http/response.h"

namespace adclick::http::detail {

struct io_worker;

// It holds the connection weakly: once the connection is gone, writes fail.
// Any thread.
class stream_handle final : public event_stream {
 public:
  stream_handle(std::weak_ptr<connection_base> c, std::shared_ptr<io_worker> w)
      : conn_(std::move(c)), worker_(std::move(w)) {}

  bool write(std::string bytes) override;
  void close() override;
  bool closed() const override { return closed_.load(std::memory_order_acquire); }
  void mark_closed() { closed_.store(true, std::memory_order_release); }

 private:
  const std::weak_ptr<connection_base> conn_;
  const std::shared_ptr<io_worker> worker_;
  std::atomic<bool> closed_{false};
};

}  // namespace adclick::http::detail
