#pragma once
// Process-wide metrics in the Prometheus text format: counters, gauges and
// latency histograms, registered once by name and labels, updated lock-free.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"

namespace adclick::base {

class counter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Latency in seconds, with fixed buckets from 50 µs to 10 s.
class histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
  void observe_ns(std::uint64_t ns);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double sum_seconds() const {
    return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Metric objects live as long as the registry; registration is not on any
// hot path (do it at start-up), updates are.
class metrics_registry {
 public:
  // `labels` is the Prometheus label set without braces, e.g. `outcome="counted"`.
  counter& add_counter(std::string name, std::string help, std::string labels = "");
  histogram& add_histogram(std::string name, std::string help, std::string labels = "");
  // A value computed when rendered (queue lengths, sizes, offsets).
  void add_gauge(std::string name, std::string help, std::string labels,
                 std::function<double()> read);
  // Several labelled values of one gauge computed together when rendered.
  void add_gauge_family(std::string name, std::string help,
                        std::function<std::vector<std::pair<std::string, double>>()> read);
  // A total computed when rendered from a component's own counter: it only
  // grows (or starts again from zero when its component does). Named *_total.
  void add_counter_fn(std::string name, std::string help, std::string labels,
                      std::function<double()> read);
  // Several labelled totals of one counter computed together when rendered.
  void add_counter_family(std::string name, std::string help,
                          std::function<std::vector<std::pair<std::string, double>>()> read);

  std::string render() const;

 private:
  struct entry {
    std::string name, help, labels, type;
    std::unique_ptr<counter> c;
    std::unique_ptr<histogram> h;
    std::function<double()> gauge;
    std::function<std::vector<std::pair<std::string, double>>()> family;
  };
  // An entry with its name, help, labels and type; the caller sets its value.
  static std::unique_ptr<entry> make_entry(std::string name, std::string help, std::string labels,
                                           const char* type);
  void push(std::unique_ptr<entry> e);

  mutable base::mutex mu_;
  std::vector<std::unique_ptr<entry>> entries_ GUARDED_BY(mu_);  // (the vector, not the values)
};

// The process's registry.
metrics_registry& metrics();

}  // namespace adclick::base
