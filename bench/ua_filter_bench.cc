// The User-Agent filter's cost per click at the built-in list's full size
// (Google Benchmark): a User-Agent seen before (the cache), and one never
// seen (a full RE2::Set pass), for a browser and for a bot.
//
//   build/bench/ua_filter_bench

#include <benchmark/benchmark.h>

#include <string>

#include "ingest/user_agent_filter.h"

namespace {

using adclick::ingest::user_agent_filter;

const user_agent_filter& filter() {
  static const auto f = [] {
    std::string error;
    auto made = user_agent_filter::create({}, error);
    if (!made) std::abort();
    return made;
  }();
  return *f;
}

const std::string kChrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36";
const std::string kBot = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";

void cached(benchmark::State& state, const std::string& ua) {
  const auto& f = filter();
  for (auto _ : state) benchmark::DoNotOptimize(f.is_bot(ua));
}

// Every call a User-Agent the cache has not seen: the version digits vary.
void uncached(benchmark::State& state, const std::string& ua) {
  const auto& f = filter();
  std::string text = ua;
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::string suffix = " v" + std::to_string(i++);
    text.resize(ua.size());
    text += suffix;
    benchmark::DoNotOptimize(f.match(text));
  }
}

void build(benchmark::State& state) {
  for (auto _ : state) {
    std::string error;
    benchmark::DoNotOptimize(user_agent_filter::create({}, error));
  }
  state.counters["patterns"] = static_cast<double>(filter().bot_patterns());
}

}  // namespace

BENCHMARK_CAPTURE(cached, browser, kChrome);
BENCHMARK_CAPTURE(cached, bot, kBot);
BENCHMARK_CAPTURE(uncached, browser, kChrome);
BENCHMARK_CAPTURE(uncached, bot, kBot);
BENCHMARK(build)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
