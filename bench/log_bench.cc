// log_bench: durable appends per second and acknowledgement latency of the
// segmented log with 1, 2 and 8 appending threads, then sequential replay on
// one thread from the page cache.
//
//   log_bench [--dir DIR] [--seconds 5] [--partitions 8] [--threads 1,2,8]
//             [--inflight 4096] [--durability sync|os]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <semaphore>
#include <thread>
#include <vector>

#include "log/segmented_log.h"
#include "log/record_format.h"

using namespace adclick;
using namespace adclick::log;
using clock_type = std::chrono::steady_clock;

namespace {

// A 100-byte frame (17-byte header + 83-byte payload), like a click with a
// short user agent.
click_record bench_record(std::uint64_t i) {
  click_record r;
  r.event_time_ms = 1'800'000'000'000 + static_cast<std::int64_t>(i / 1000);
  r.ad_id = 1 + i % 10'000;
  r.expires_at_s = 1'800'003'600;
  r.key_id = "k1";
  r.impression_id = fmt::format("{:016x}", i * 0x9E3779B97F4A7C15ull);
  r.client.family = 4;
  r.client.bytes = {10, 1, 2, 3};
  r.user_agent = std::string(27, 'a');
  return r;
}

// Latency histogram in microseconds; written by the flusher thread only.
struct histogram {
  std::vector<std::uint64_t> buckets = std::vector<std::uint64_t>(200'000, 0);
  std::uint64_t count = 0;
  void add(std::uint64_t us) {
    ++buckets[std::min<std::uint64_t>(us, buckets.size() - 1)];
    ++count;
  }
  double percentile(double p) const {
    const auto want = static_cast<std::uint64_t>(p * static_cast<double>(count));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen > want) return static_cast<double>(i) / 1000.0;
    }
    return static_cast<double>(buckets.size()) / 1000.0;
  }
};

struct append_result {
  double per_sec = 0, mb_per_sec = 0, p50_ms = 0, p99_ms = 0, p999_ms = 0;
  std::uint64_t batches = 0, syncs = 0, sync_ns = 0, appends = 0;
};

append_result run_appends(const std::string& dir, std::uint32_t partitions, int threads,
                          int inflight, double seconds, durability mode,
                          std::uint64_t preallocate, bool journal) {
  std::filesystem::remove_all(dir);
  log_options o;
  o.dir = dir;
  o.partitions = partitions;
  o.mode = mode;
  o.preallocate = preallocate;
  o.journal = journal;
  recovery_report rep;
  std::string err;
  auto opened = segmented_log::open(o, rep, err);
  if (!opened) {
    fmt::print(stderr, "log_bench: {}\n", err);
    std::exit(1);
  }
  auto& log = **opened;
  log.start();
  histogram hist;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> acked{0};
  std::vector<std::thread> ts;
  const int window = std::max(1, inflight / threads);
  std::vector<std::unique_ptr<std::counting_semaphore<1 << 20>>> sems;
  for (int t = 0; t < threads; ++t) {
    sems.push_back(std::make_unique<std::counting_semaphore<1 << 20>>(window));
  }
  // Pre-build records so the figure is the log's, not the string formatting's.
  std::vector<click_record> records;
  for (std::uint64_t i = 0; i < 4096; ++i) records.push_back(bench_record(i));
  const auto t0 = clock_type::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto& sem = *sems[static_cast<std::size_t>(t)];
      std::uint64_t i = static_cast<std::uint64_t>(t);
      while (!stop.load(std::memory_order_relaxed)) {
        sem.acquire();
        const auto start = clock_type::now();
        log.append(static_cast<partition_id>(i % partitions), records[i % records.size()],
                   [&, start](std::error_code ec, offset_t) {
                     if (!ec) {
                       hist.add(static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::microseconds>(
                               clock_type::now() - start)
                               .count()));
                       acked.fetch_add(1, std::memory_order_relaxed);
                     }
                     sem.release();
                   });
        i += static_cast<std::uint64_t>(threads);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const auto n = acked.load();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (auto& t : ts) t.join();
  log.stop();
  append_result r;
  r.appends = n;
  r.per_sec = static_cast<double>(n) / elapsed;
  r.mb_per_sec = r.per_sec * 100 / 1e6;
  r.p50_ms = hist.percentile(0.50);
  r.p99_ms = hist.percentile(0.99);
  r.p999_ms = hist.percentile(0.999);
  r.batches = log.stats().batches.load();
  r.syncs = log.stats().syncs.load();
  r.sync_ns = log.stats().sync_ns.load();
  return r;
}

void run_replay(const std::string& dir, std::uint32_t partitions) {
  log_options o;
  o.dir = dir;
  o.partitions = partitions;
  recovery_report rep;
  std::string err;
  auto opened = segmented_log::open(o, rep, err);
  if (!opened) {
    fmt::print(stderr, "log_bench: {}\n", err);
    std::exit(1);
  }
  auto& log = **opened;
  for (int pass = 0; pass < 2; ++pass) {
    std::uint64_t records = 0, checksum = 0;
    const auto t0 = clock_type::now();
    for (partition_id p = 0; p < partitions; ++p) {
      auto reader = log.open_reader(p, 0);
      for (;;) {
        auto n = reader->read(1 << 16, [&](offset_t, const click_view& v) {
          checksum += v.ad_id + v.impression_id.size();
        });
        if (!n || *n == 0) break;
        records += *n;
      }
    }
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    fmt::print("replay pass {}: {} records in {:.3f} s = {:.2f} M records/s on 1 thread "
               "({:.0f} MB/s; checksum {})\n",
               pass + 1, records, s, static_cast<double>(records) / s / 1e6,
               static_cast<double>(records) * 100 / s / 1e6, checksum % 1000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"durable append and replay throughput of the adclick log"};
  std::string dir = "./log_bench_data";
  double seconds = 5;
  std::uint32_t partitions = 8;
  std::vector<int> thread_counts{1, 2, 8};
  int inflight = 4096;
  std::string mode = "sync";
  std::uint64_t preallocate = 2 << 20;
  bool journal = true;
  app.add_option("--dir", dir, "scratch directory (deleted and recreated)");
  app.add_option("--seconds", seconds, "duration of each append run");
  app.add_option("--partitions", partitions, "log partitions");
  app.add_option("--threads", thread_counts, "appending thread counts")->delimiter(',');
  app.add_option("--inflight", inflight, "appends in flight in total (split over the threads)");
  app.add_option("--durability", mode, "sync or os")->check(CLI::IsMember({"sync", "os"}));
  app.add_option("--preallocate", preallocate, "bytes of zeros kept ahead of the data (0: off)");
  app.add_option("--journal", journal, "sync mode: one commit journal for all partitions (1) or an fdatasync per partition (0)");
  CLI11_PARSE(app, argc, argv);

  fmt::print("log_bench: {} partitions, {} durability, 100-byte records, {} in flight, {} s per "
             "run, dir {}\n",
             partitions, mode, inflight, seconds, dir);
  fmt::print("{:>7} {:>12} {:>8} {:>8} {:>8} {:>8} {:>10} {:>12}\n", "threads", "appends/s",
             "MB/s", "p50 ms", "p99 ms", "p999 ms", "batches/s", "fsync avg ms");
  for (int t : thread_counts) {
    const auto r = run_appends(dir, partitions, t, inflight, seconds,
                               mode == "sync" ? durability::sync : durability::os, preallocate, journal);
    fmt::print("{:>7} {:>12.0f} {:>8.1f} {:>8.3f} {:>8.3f} {:>8.3f} {:>10.0f} {:>12.3f}\n", t,
               r.per_sec, r.mb_per_sec, r.p50_ms, r.p99_ms, r.p999_ms,
               static_cast<double>(r.batches) / seconds,
               r.syncs ? static_cast<double>(r.sync_ns) / static_cast<double>(r.syncs) / 1e6 : 0.0);
  }
  run_replay(dir, partitions);
  std::filesystem::remove_all(dir);
  return 0;
}
