#pragma once
// Shared by the copies of one request's responder; enforces "exactly once".

#include <atomic>
#include <memory>

#include "http/connection_base.h"
#include "http/response.h"

namespace adclick::http::detail {

class response_slot {
 public:
  explicit response_slot(std::shared_ptr<connection_base> c) : conn_(std::move(c)) {}
  response_slot(const response_slot&) = delete;
  response_slot& operator=(const response_slot&) = delete;

  // Runs on whichever thread drops the last copy of the responder: an
  // unanswered request gets a 500.
  ~response_slot();

  // Any thread; a second call is counted as a handler error and ignored.
  void respond(response r);
  bool used() const { return used_.load(std::memory_order_acquire); }

 private:
  const std::shared_ptr<connection_base> conn_;
  std::atomic<bool> used_{false};
};

}  // namespace adclick::http::detail
