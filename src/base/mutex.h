#pragma once
// std::mutex and std::shared_mutex with the annotations clang's
// -Wthread-safety checks (see thread_annotations.h), and the scoped locks
// over them. A condition variable waits through the lock that holds its
// mutex, in a loop that re-checks the condition in the function that holds
// the lock (a predicate lambda would be analysed without it):
//
//   mutex_lock lock(mu_);
//   while (queue_.empty() && !stopping_) lock.wait(cv_);

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "base/thread_annotations.h"

namespace adclick::base {

class CAPABILITY("mutex") mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  // The mutex itself, for a condition variable's wait (mutex_lock::wait).
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a mutex for its scope; unlock() and lock() give it up and take it
// again inside the scope.
class SCOPED_CAPABILITY mutex_lock {
 public:
  explicit mutex_lock(mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~mutex_lock() RELEASE() {
    if (held_) mu_.unlock();
  }
  mutex_lock(const mutex_lock&) = delete;
  mutex_lock& operator=(const mutex_lock&) = delete;

  void unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

  // Unlocks, waits for a notification (or a spurious wake-up), locks again.
  void wait(std::condition_variable& cv) {
    std::unique_lock<std::mutex> lk(mu_.native(), std::adopt_lock);
    cv.wait(lk);
    lk.release();
  }
  // The same, until `t`; false when it timed out.
  template <class Clock, class Duration>
  bool wait_until(std::condition_variable& cv, std::chrono::time_point<Clock, Duration> t) {
    std::unique_lock<std::mutex> lk(mu_.native(), std::adopt_lock);
    const auto status = cv.wait_until(lk, t);
    lk.release();
    return status == std::cv_status::no_timeout;
  }

 private:
  mutex& mu_;
  bool held_ = true;
};

class CAPABILITY("shared_mutex") shared_mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a shared_mutex exclusively for its scope.
class SCOPED_CAPABILITY writer_lock {
 public:
  explicit writer_lock(shared_mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~writer_lock() RELEASE() { mu_.unlock(); }
  writer_lock(const writer_lock&) = delete;
  writer_lock& operator=(const writer_lock&) = delete;

 private:
  shared_mutex& mu_;
};

// Holds a shared_mutex shared for its scope.
class SCOPED_CAPABILITY reader_lock {
 public:
  explicit reader_lock(shared_mutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~reader_lock() RELEASE() { mu_.unlock_shared(); }
  reader_lock(const reader_lock&) = delete;
  reader_lock& operator=(const reader_lock&) = delete;

 private:
  shared_mutex& mu_;
};

}  // namespace adclick::base
