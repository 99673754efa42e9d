#pragma once
// A value that one writer replaces now and then (a config reload) while any
// number of threads read it without a lock.
//
// Every version ever published stays alive until the published<T> is
// destroyed, so a reference a reader took never dangles, however long it
// keeps it. Meant for small values replaced rarely: each publish() keeps one
// more (a SIGHUP adds a few hundred bytes).

#include <atomic>
#include <memory>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace adclick::base {

template <class T>
class published {
 public:
  explicit published(T initial) { publish(std::move(initial)); }
  published(const published&) = delete;
  published& operator=(const published&) = delete;

  // The latest version; valid for the life of this object.
  const T& get() const { return *current_.load(std::memory_order_acquire); }

  // Makes `next` the version get() returns from now on.
  void publish(T next) {
    mutex_lock lock(mu_);
    versions_.push_back(std::make_unique<const T>(std::move(next)));
    current_.store(versions_.back().get(), std::memory_order_release);
  }

 private:
  mutex mu_;
  std::vector<std::unique_ptr<const T>> versions_ GUARDED_BY(mu_);
  std::atomic<const T*> current_{nullptr};
};

}  // namespace adclick::base
