// recon_bench: the batch layer alone. Fills a log with click records (no
// HTTP; a small fraction of them duplicates), marks them as consumed and
// final, then runs one reconciliation over all of them on the calling
// thread (one core): replay + dedup + count + compare with the (empty)
// counts. Prints records/s, the dedup set's peak and the process's peak RSS.
//
//   recon_bench [--dir DIR] [--records 5000000] [--partitions 8] [--ads 10000]
//               [--rate 10000] [--ttl 3600] [--dup-fraction 0.01] [--keep]

#include <sys/resource.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <semaphore>

#include "log/segmented_log.h"
#include "recon/reconciler.h"
#include "state/store.h"

using namespace adclick;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"reconciliation throughput of adclick's batch layer (one core, no HTTP)"};
  std::string dir = "./recon_bench_data";
  std::uint64_t records = 5'000'000;
  std::uint32_t partitions = 8;
  std::uint64_t ads = 10'000;
  double rate = 10'000;
  std::int64_t ttl_s = 3600;
  double dup_fraction = 0.01;
  bool keep = false;
  app.add_option("--dir", dir, "scratch directory (deleted and recreated unless --keep finds a log)");
  app.add_option("--records", records, "click records to fill the log with");
  app.add_option("--partitions", partitions, "log partitions");
  app.add_option("--ads", ads, "distinct ads (Zipf 1.0)");
  app.add_option("--rate", rate, "clicks per second of event time (sets the span of the log)");
  app.add_option("--ttl", ttl_s, "signed link lifetime, seconds (how long dedup remembers)");
  app.add_option("--dup-fraction", dup_fraction, "fraction of records that repeat an earlier click");
  app.add_flag("--keep", keep, "keep the filled log and reuse it on the next run");
  CLI11_PARSE(app, argc, argv);

  log::log_options lo;
  lo.dir = dir + "/log";
  lo.partitions = partitions;
  lo.mode = log::durability::os;
  lo.segment_size = 256ull << 20;
  log::recovery_report rep;
  std::string err;
  const std::int64_t t0_ms = 1'700'000'000'000;
  const std::int64_t span_ms = static_cast<std::int64_t>(static_cast<double>(records) / rate * 1000.0);
  const bool reuse = keep && std::filesystem::exists(dir + "/log");
  if (!reuse) {
    std::filesystem::remove_all(dir);
    auto lg = log::segmented_log::open(lo, rep, err);
    if (!lg) {
      fmt::print(stderr, "recon_bench: {}\n", err);
      return 1;
    }
    (*lg)->start();
    std::vector<double> cdf(ads);
    double sum = 0;
    for (std::uint64_t i = 0; i < ads; ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0, sum);
    std::uniform_real_distribution<double> unit(0, 1);
    std::counting_semaphore<1 << 20> window(1 << 16);
    const auto fill_start = clock_type::now();
    for (std::uint64_t i = 0; i < records; ++i) {
      click_record r;
      r.event_time_ms = t0_ms + static_cast<std::int64_t>(static_cast<double>(i) * 1000.0 / rate);
      // A duplicate repeats a click from up to a minute before (same link).
      std::uint64_t n = i;
      if (i > 1000 && unit(rng) < dup_fraction) n = i - 1 - static_cast<std::uint64_t>(unit(rng) * 1000);
      std::mt19937_64 pick(n);
      r.ad_id = 1 + static_cast<std::uint64_t>(std::lower_bound(cdf.begin(), cdf.end(),
                                                                 std::uniform_real_distribution<double>(0, sum)(pick)) -
                                               cdf.begin());
      const std::int64_t first_ms = t0_ms + static_cast<std::int64_t>(static_cast<double>(n) * 1000.0 / rate);
      r.expires_at_s = first_ms / 1000 + ttl_s;
      r.key_id = "k1";
      r.impression_id = fmt::format("{:016x}-{:08x}", n * 0x9E3779B97F4A7C15ull, n);
      r.client.family = 4;
      r.user_agent = "Mozilla/5.0";
      window.acquire();
      (*lg)->append(static_cast<log::partition_id>(r.ad_id % partitions), r,
                    [&](std::error_code, log::offset_t) { window.release(); });
    }
    (*lg)->stop();
    fmt::print("recon_bench: filled {} records over {} partitions in {:.1f} s\n", records, partitions,
               std::chrono::duration<double>(clock_type::now() - fill_start).count());
  }
  auto lg = log::segmented_log::open(lo, rep, err);
  std::filesystem::remove_all(dir + "/state");
  auto st = state::store::open(dir + "/state", err);
  if (!lg || !st) {
    fmt::print(stderr, "recon_bench: {}\n", err);
    return 1;
  }
  // As if the speed layer had consumed everything and its watermark were past it.
  {
    state::write_batch b;
    b.put_watermark(0, t0_ms + span_ms + 3'600'000);
    for (std::uint32_t p = 0; p < partitions; ++p) b.put_offset(p, (*lg)->durable_end(p));
    if ((*st)->write(b, true)) return 1;
  }
  recon::recount_options ro;
  ro.max_validity_ms = ttl_s * 1000;
  ro.shards = 1;
  recon::report r;
  r.requested_from_ms = t0_ms;
  r.requested_to_ms = t0_ms + span_ms + 60'000;
  recon::cancel_token cancel;
  const auto t = clock_type::now();
  const auto ec = recon::recount(**lg, **st, ro, r, cancel);
  const double s = std::chrono::duration<double>(clock_type::now() - t).count();
  if (ec) {
    fmt::print(stderr, "recon_bench: {}\n", ec.message());
    return 1;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("recon_bench: {} records ({:.0f} MB) over {:.1f} min of event time, {} ads, ttl {} s, "
             "dup fraction {}\n",
             r.records_read, static_cast<double>(r.bytes_read) / 1e6, static_cast<double>(span_ms) / 60000.0, ads,
             ttl_s, dup_fraction);
  fmt::print("recount: {:.2f} s, {:.0f} records/s on one thread, {} duplicates, {} clicks counted, "
             "{} counters written\n",
             s, static_cast<double>(r.records_read) / s, r.duplicates_found, r.clicks_counted, r.rows_corrected);
  fmt::print("dedup peak: {} impressions; peak RSS {:.0f} MB\n", r.dedup_peak_entries,
             static_cast<double>(ru.ru_maxrss) / 1024.0);
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
