// agg_bench: the speed layer alone. Fills a log with click records (no HTTP),
// then lets the aggregation shards apply all of them from offset 0, their
// RocksDB commits included, and prints records/s per shard thread and the
// split between reading + decoding + windowing and committing.
//
//   agg_bench [--dir DIR] [--records 5000000] [--partitions 8] [--shards 1,2]
//             [--ads 10000] [--flush-every 200000]

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <semaphore>
#include <thread>

#include "agg/aggregator.h"
#include "log/segmented_log.h"
#include "state/store.h"

using namespace adclick;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"aggregation throughput of adclick's speed layer (no HTTP)"};
  std::string dir = "./agg_bench_data";
  std::uint64_t records = 5'000'000;
  std::uint32_t partitions = 8;
  std::vector<std::uint32_t> shard_counts{1, 2};
  std::uint64_t ads = 10'000;
  app.add_option("--dir", dir, "scratch directory (deleted and recreated)");
  app.add_option("--records", records, "click records to fill the log with");
  app.add_option("--partitions", partitions, "log partitions");
  app.add_option("--shards", shard_counts, "shard counts to run")->delimiter(',');
  app.add_option("--ads", ads, "distinct ads (Zipf 1.0)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  log::log_options lo;
  lo.dir = dir + "/log";
  lo.partitions = partitions;
  lo.mode = log::durability::os;  // filling fast; the shards read the same either way
  log::recovery_report rep;
  std::string err;
  auto lg = log::segmented_log::open(lo, rep, err);
  if (!lg) {
    fmt::print(stderr, "agg_bench: {}\n", err);
    return 1;
  }
  (*lg)->start();
  // Zipf 1.0 over the ads, events spread over 10 minutes.
  std::vector<double> cdf(ads);
  double sum = 0;
  for (std::uint64_t i = 0; i < ads; ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, sum);
  const std::int64_t t0_ms = 1'800'000'000'000;
  std::counting_semaphore<1 << 20> window(1 << 16);
  const auto fill_start = clock_type::now();
  for (std::uint64_t i = 0; i < records; ++i) {
    click_record r;
    r.ad_id = 1 + static_cast<std::uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    r.event_time_ms = t0_ms + static_cast<std::int64_t>(i * 600'000 / records);
    r.expires_at_s = t0_ms / 1000 + 3600;
    r.key_id = "k1";
    r.impression_id = fmt::format("{:016x}", i * 0x9E3779B97F4A7C15ull);
    r.client.family = 4;
    r.user_agent = "Mozilla/5.0";
    window.acquire();
    (*lg)->append(static_cast<log::partition_id>(r.ad_id % partitions), r,
                  [&](std::error_code, log::offset_t) { window.release(); });
  }
  (*lg)->stop();
  const double fill_s = std::chrono::duration<double>(clock_type::now() - fill_start).count();
  lg->reset();
  fmt::print("agg_bench: {} records over {} partitions, {} ads (Zipf 1.0), filled in {:.1f} s\n",
             records, partitions, ads, fill_s);
  fmt::print("{:>6} {:>12} {:>16} {:>16} {:>14} {:>10} {:>12}\n", "shards", "seconds",
             "records/s total", "per shard thr", "commit share", "commits", "WA (state)");

  for (std::uint32_t shards : shard_counts) {
    std::filesystem::remove_all(dir + "/state");
    auto l2 = log::segmented_log::open(lo, rep, err);
    auto st = state::store::open(dir + "/state", err);
    if (!l2 || !st) {
      fmt::print(stderr, "agg_bench: {}\n", err);
      return 1;
    }
    agg::shard_options so;
    so.flush_interval = std::chrono::milliseconds(1000);
    so.allowed_lateness = std::chrono::hours(1);
    agg::aggregator a(**l2, **st, shards, so, nullptr);
    const auto t0 = clock_type::now();
    auto r = a.recover();  // every shard applies its partitions from offset 0, in parallel
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (!r) {
      fmt::print(stderr, "agg_bench: {}\n", r.error().message());
      return 1;
    }
    std::uint64_t commit_ns = 0, commits = 0, batch_bytes = 0;
    for (const auto& ss : a.status()) {
      commit_ns += ss.commit_ns;
      commits += ss.commits;
      batch_bytes += ss.commit_bytes;
    }
    const auto state_stats = (*st)->stats();
    const double total = static_cast<double>(r->records_replayed) / s;
    const double commit_share = static_cast<double>(commit_ns) / 1e9 / (s * shards);
    fmt::print("{:>6} {:>12.2f} {:>16.0f} {:>16.0f} {:>13.0f}% {:>10} {:>12.2f}\n", shards, s, total,
               total / shards, commit_share * 100, commits,
               batch_bytes ? static_cast<double>(state_stats.wal_bytes_written + state_stats.sst_bytes) /
                                 static_cast<double>(batch_bytes)
                           : 0.0);
  }
  fmt::print("(records/s per shard thread = total / shards; commit share = time in RocksDB "
             "writes / shard busy time; WA = (WAL bytes + SST bytes) / batch bytes)\n");
  std::filesystem::remove_all(dir);
  return 0;
}
