#include "base/metrics.h"

#include "base/mutex.h"
#include <fmt/format.h>

#include <map>

namespace adclick::base {

void histogram::observe_ns(std::uint64_t ns) {
  const double s = static_cast<double>(ns) / 1e9;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

std::unique_ptr<metrics_registry::entry> metrics_registry::make_entry(std::string name, std::string help,
                                                                      std::string labels, const char* type) {
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->labels = std::move(labels);
  e->type = type;
  return e;
}

void metrics_registry::push(std::unique_ptr<entry> e) {
  base::mutex_lock lk(mu_);
  entries_.push_back(std::move(e));
}

counter& metrics_registry::add_counter(std::string name, std::string help, std::string labels) {
  auto e = make_entry(std::move(name), std::move(help), std::move(labels), "counter");
  e->c = std::make_unique<counter>();
  counter& ref = *e->c;
  push(std::move(e));
  return ref;
}

histogram& metrics_registry::add_histogram(std::string name, std::string help, std::string labels) {
  auto e = make_entry(std::move(name), std::move(help), std::move(labels), "histogram");
  e->h = std::make_unique<histogram>();
  histogram& ref = *e->h;
  push(std::move(e));
  return ref;
}

void metrics_registry::add_gauge(std::string name, std::string help, std::string labels,
                                 std::function<double()> read) {
  auto e = make_entry(std::move(name), std::move(help), std::move(labels), "gauge");
  e->gauge = std::move(read);
  push(std::move(e));
}

void metrics_registry::add_gauge_family(
    std::string name, std::string help,
    std::function<std::vector<std::pair<std::string, double>>()> read) {
  auto e = make_entry(std::move(name), std::move(help), "", "gauge");
  e->family = std::move(read);
  push(std::move(e));
}

void metrics_registry::add_counter_fn(std::string name, std::string help, std::string labels,
                                      std::function<double()> read) {
  auto e = make_entry(std::move(name), std::move(help), std::move(labels), "counter");
  e->gauge = std::move(read);
  push(std::move(e));
}

void metrics_registry::add_counter_family(
    std::string name, std::string help,
    std::function<std::vector<std::pair<std::string, double>>()> read) {
  auto e = make_entry(std::move(name), std::move(help), "", "counter");
  e->family = std::move(read);
  push(std::move(e));
}

std::string metrics_registry::render() const {
  base::mutex_lock lk(mu_);
  // Group by name so HELP and TYPE appear once per metric.
  std::map<std::string, std::vector<const entry*>> by_name;
  for (const auto& e : entries_) by_name[e->name].push_back(e.get());
  std::string out;
  auto with = [](const std::string& labels, const std::string& extra) {
    if (labels.empty() && extra.empty()) return std::string();
    if (labels.empty()) return "{" + extra + "}";
    if (extra.empty()) return "{" + labels + "}";
    return "{" + labels + "," + extra + "}";
  };
  for (const auto& [name, list] : by_name) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, list.front()->help, name,
                       list.front()->type);
    for (const entry* e : list) {
      if (e->c) {
        out += fmt::format("{}{} {}\n", name, with(e->labels, ""), e->c->value());
      } else if (e->h) {
        std::uint64_t cum = 0;
        for (std::size_t i = 0; i < histogram::kBounds.size(); ++i) {
          cum += e->h->bucket(i);
          out += fmt::format("{}_bucket{} {}\n", name,
                             with(e->labels, fmt::format("le=\"{}\"", histogram::kBounds[i])), cum);
        }
        cum += e->h->bucket(histogram::kBounds.size());
        out += fmt::format("{}_bucket{} {}\n", name, with(e->labels, "le=\"+Inf\""), cum);
        out += fmt::format("{}_sum{} {}\n", name, with(e->labels, ""), e->h->sum_seconds());
        out += fmt::format("{}_count{} {}\n", name, with(e->labels, ""), e->h->count());
      } else if (e->gauge) {
        out += fmt::format("{}{} {}\n", name, with(e->labels, ""), e->gauge());
      } else if (e->family) {
        for (const auto& [labels, v] : e->family()) {
          out += fmt::format("{}{} {}\n", name, with(labels, ""), v);
        }
      }
    }
  }
  return out;
}

metrics_registry& metrics() {
  static metrics_registry r;
  return r;
}

}  // namespace adclick::base
