#pragma once
// A sync point for interleaving tests: the first pass() after hold() stops
// there until release(); the test waits for that with wait_held().

#include <condition_variable>
#include <mutex>

namespace adclick::testutil {

class hold_point {
 public:
  void hold() {
    std::lock_guard lk(mu_);
    hold_ = true;
  }
  // Called by the code under test; blocks only the first time after hold().
  void pass() {
    std::unique_lock lk(mu_);
    if (!hold_) return;
    hold_ = false;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return released_; });
  }
  void wait_held() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return held_; });
  }
  void release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false, held_ = false, released_ = false;
};

}  // namespace adclick::testutil
