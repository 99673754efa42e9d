#pragma once
// Runs a function every `interval` on its own thread until stopped; stop()
// wakes it at once and, if run_at_stop, runs the function one last time.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "base/mutex.h"

namespace adclick::base {

class periodic_task {
 public:
  periodic_task(std::chrono::milliseconds interval, std::function<void()> fn, bool run_at_stop = true)
      : interval_(interval), fn_(std::move(fn)), run_at_stop_(run_at_stop) {}
  ~periodic_task() { stop(); }
  periodic_task(const periodic_task&) = delete;
  periodic_task& operator=(const periodic_task&) = delete;

  void start() {
    base::mutex_lock lk(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] {
      base::mutex_lock lk(mu_);
      while (!stopping_) {
        const auto until = std::chrono::steady_clock::now() + interval_;
        while (!stopping_ && lk.wait_until(cv_, until)) {
        }
        if (stopping_ && !run_at_stop_) break;
        lk.unlock();
        fn_();
        lk.lock();
      }
    });
  }

  void stop() {
    {
      base::mutex_lock lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const std::chrono::milliseconds interval_;
  const std::function<void()> fn_;
  const bool run_at_stop_;
  base::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace adclick::base
