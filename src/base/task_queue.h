#pragma once
// A fixed pool of worker threads with a bounded queue, for work that must not
// run on an I/O thread (e.g. long RocksDB scans). post() never blocks: it
// fails when the queue is full, so overload is visible instead of unbounded.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace adclick::base {

class task_queue {
 public:
  task_queue(std::size_t threads, std::size_t capacity) : capacity_(capacity) {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { run(); });
    }
  }
  ~task_queue() { stop(); }
  task_queue(const task_queue&) = delete;
  task_queue& operator=(const task_queue&) = delete;

  // False (and fn not taken) when the queue is full or stopped. Any thread.
  [[nodiscard]] bool post(std::function<void()>& fn) {
    {
      base::mutex_lock lk(mu_);
      if (stopping_ || tasks_.size() >= capacity_) return false;
      tasks_.push_back(std::move(fn));
    }
    cv_.notify_one();
    return true;
  }

  // Runs what is queued, then joins the threads. Idempotent.
  void stop() {
    {
      base::mutex_lock lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> fn;
      {
        base::mutex_lock lk(mu_);
        while (!stopping_ && tasks_.empty()) lk.wait(cv_);
        if (tasks_.empty()) return;
        fn = std::move(tasks_.front());
        tasks_.pop_front();
      }
      fn();
    }
  }

  const std::size_t capacity_;
  base::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace adclick::base
