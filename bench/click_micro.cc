// click_micro: the click path's own CPU cost, without HTTP or the disk's
// wait. Google Benchmark cases:
//
//   verify   one signature check (HMAC-SHA256 over the click's fields)
//   counted  one fresh signed click through ingest::click_processor: parse,
//            ad lookup (cached), verify, dedup reserve (pending set + the
//            RocksDB dedup family), partition choice, the append's record
//            and its completion (a log that acknowledges at once), with
//            the shard's commit of the pending keys every 1,000 clicks
//
// Each prints ns per click and, as `allocs`, the heap allocations per click
// (every operator new in the binary is counted).
//
//   click_micro [--benchmark_filter=counted] [--benchmark_repetitions=3]

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "adclick/click_log.h"
#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/dedup_index.h"
#include "ingest/outcome_tallies.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"
#include "state/store.h"

namespace {

std::atomic<std::uint64_t> g_allocs{0};

}  // namespace

// Counts every allocation of the process (the benchmark's own are outside
// the timed loops, and the cases read the counter around them). GCC sees
// the replaced new and delete as malloc and free and warns of a mismatch
// they do not have: they are replaced together.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace adclick;

constexpr std::int64_t kNowMs = 1'800'000'000'000;
constexpr std::uint32_t kPartitions = 8;
constexpr std::uint64_t kAds = 1000;

// Acknowledges every append at once, at the partition's next offset.
class instant_log final : public log::click_log {
 public:
  std::uint32_t partitions() const override { return kPartitions; }
  void append(log::partition_id p, const click_record&, log::append_handler done) override {
    done({}, next_[p]++);
  }
  log::offset_t durable_end(log::partition_id p) const override { return next_[p]; }
  log::offset_t start_offset(log::partition_id) const override { return 0; }
  std::uint64_t durable_generation() const override { return 0; }
  std::uint64_t wait_durable(std::uint64_t seen, std::chrono::steady_clock::time_point) const override {
    return seen;
  }
  std::unique_ptr<log::partition_reader> open_reader(log::partition_id, log::offset_t) override { return nullptr; }
  std::vector<log::segment_info> segments(log::partition_id) const override { return {}; }
  void set_delete_floor(log::partition_id, log::offset_t) override {}

 private:
  log::offset_t next_[kPartitions] = {};
};

const std::map<std::string, std::string>& keys() {
  static const std::map<std::string, std::string> k{{"k1", "0123456789abcdef0123456789abcdef"}};
  return k;
}

void verify(benchmark::State& state) {
  const ingest::signer sig(keys(), "k1", 86'400);
  const std::string s = sig.sign(42, "imp-0123456789abcdef", kNowMs / 1000 + 3600);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sig.verify(42, "imp-0123456789abcdef", s, kNowMs / 1000));
  }
}
BENCHMARK(verify);

void counted(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "adclick_click_micro";
  std::filesystem::remove_all(dir);
  std::string err;
  auto store = state::store::open(dir.string(), err);
  if (!store) {
    state.SkipWithError(err.c_str());
    return;
  }
  ingest::ad_registry ads(**store);
  for (std::uint64_t ad = 1; ad <= kAds; ++ad) {
    bool created = false;
    std::string why;
    (void)ads.put(ad, "adv-1", "https://example.com/landing?ad=" + std::to_string(ad), created, why);
  }
  instant_log lg;
  ingest::signer sig(keys(), "k1", 86'400);
  ingest::dedup_index dedup(store->get(), kPartitions);
  ingest::partitioner parts(kPartitions, 1000, 2, {});
  ingest::outcome_tallies tallies;
  ingest::click_processor clicks(lg, ads, dedup, parts, sig, tallies);

  // Distinct signed clicks, made before the timed loop.
  const std::size_t n = static_cast<std::size_t>(state.max_iterations);
  std::vector<std::string> queries;
  queries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t ad = 1 + i % kAds;
    const std::string imp = "imp-" + std::to_string(i) + "-0123456789";
    queries.push_back("adId=" + std::to_string(ad) + "&impressionId=" + imp +
                      "&signature=" + sig.sign(ad, imp, kNowMs / 1000 + 3600));
  }
  ingest::click_context ctx;
  ctx.now_ms = kNowMs;
  ctx.user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
  std::uint64_t counted_clicks = 0;
  std::size_t i = 0;
  const std::uint64_t allocs_before = g_allocs.load(std::memory_order_relaxed);
  for (auto _ : state) {
    clicks.process(queries[i], ctx, [&counted_clicks](const ingest::click_result& r) {
      counted_clicks += r.outcome == ingest::click_outcome::counted ? 1 : 0;
    });
    if (++i % 1000 == 0) {
      // What a shard does after its commit: the pending keys leave.
      for (std::uint32_t p = 0; p < kPartitions; ++p) dedup.committed(p, lg.durable_end(p));
    }
  }
  const std::uint64_t allocs = g_allocs.load(std::memory_order_relaxed) - allocs_before;
  if (counted_clicks != i) state.SkipWithError("a click was not counted");
  state.counters["allocs"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(i));
  state.SetItemsProcessed(static_cast<std::int64_t>(i));
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(counted)->Iterations(300'000)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
