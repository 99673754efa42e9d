// SIGKILL and a full disk under a stream of clicks, against the real binary.

#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "log/segmented_log.h"
#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/http_client.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::testutil;

namespace {

constexpr const char* kUrl = "https://shop.example.com/";

// Every impression id in the log of a stopped server, with how often it occurs.
std::map<std::string, int> logged_impressions(const std::string& data_dir, std::uint32_t partitions,
                                              std::uint64_t journal_size = 32 << 20) {
  log::log_options o;
  o.checkpoint_bytes = journal_size;
  o.dir = data_dir + "/log";
  o.partitions = partitions;
  log::recovery_report rep;
  std::string err;
  auto opened = log::segmented_log::open(o, rep, err);
  INFO(err);
  REQUIRE(opened);
  std::map<std::string, int> seen;
  for (log::partition_id p = 0; p < partitions; ++p) {
    auto r = (*opened)->open_reader(p, 0);
    for (;;) {
      auto n = r->read(1000, [&](log::offset_t, const click_view& v) { ++seen[std::string(v.impression_id)]; });
      if (!n || *n == 0) break;
    }
  }
  return seen;
}

}  // namespace

TEST_CASE("SIGKILL during a stream of clicks: every 302 is in the log exactly once", "[api][crash]") {
  temp_dir dir;
  click_server s(dir.path(), "[log]\npartitions = 4\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  REQUIRE(s.register_ad(2, "adv-2", kUrl) == 201);
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> redirected;
  for (int round = 0; round < 3; ++round) {
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::string imp = "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" + std::to_string(i);
          const auto r = s.click(1 + static_cast<std::uint64_t>(i % 2), imp);
          if (r.status == 302) {
            std::lock_guard lk(mu);
            redirected.insert(imp);
          }
          // Retries of acknowledged clicks: duplicates, never counted twice.
          if (i % 7 == 0) (void)s.click(1 + static_cast<std::uint64_t>(i % 2), imp);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 600)(rng)));
    s.kill();
    stop = true;
    for (auto& t : ts) t.join();
    s.restart();
    REQUIRE(s.ready());
  }
  REQUIRE(s.stop() == 0);
  INFO(redirected.size() << " clicks redirected");
  REQUIRE(redirected.size() > 20);
  const auto logged = logged_impressions(dir.path() + "/data", 4);
  std::size_t missing = 0, twice = 0;
  for (const auto& imp : redirected) {
    auto it = logged.find(imp);
    if (it == logged.end()) ++missing;
  }
  for (const auto& [imp, n] : logged) {
    if (n != 1) ++twice;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
}

TEST_CASE("a full disk: users still get 302, clicks are tallied unrecorded, counting resumes", "[api]") {
  temp_dir dir;
  // The log directory on a small filesystem of its own.
  const std::string log_dir = dir.path() + "/data/log";
  std::filesystem::create_directories(log_dir);
  REQUIRE(::mount("tmpfs", log_dir.c_str(), "tmpfs", 0, "size=1m") == 0);
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{log_dir};
  click_server s(dir.path(), "[log]\npartitions = 1\npreallocate = \"0B\"\njournal_size = \"64KiB\"\n");
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  CHECK(s.click(1, "before").status == 302);
  CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 1);
  // Fill the filesystem.
  {
    std::ofstream filler(log_dir + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  // The segment's last page may still take a few records; then appends fail.
  for (int i = 0; i < 100; ++i) {
    auto r = s.click(1, "during-" + std::to_string(i));
    CHECK(r.status == 302);
    CHECK(r.headers.count("location") == 1);
  }
  const double unrecorded = s.metric("adclick_clicks_total{outcome=\"unrecorded\"}");
  const double counted = s.metric("adclick_clicks_total{outcome=\"counted\"}");
  CHECK(unrecorded >= 10);
  CHECK(unrecorded + counted == 101);
  // Space returns: counting resumes, and an unrecorded click counts when retried.
  std::filesystem::remove(log_dir + "/filler");
  CHECK(s.click(1, "after").status == 302);
  CHECK(s.click(1, "during-99").status == 302);
  CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == counted + 2);
  REQUIRE(s.stop() == 0);
  // The log holds exactly the counted clicks, each once.
  const auto logged = logged_impressions(dir.path() + "/data", 1, 64 * 1024);
  CHECK(static_cast<double>(logged.size()) == counted + 2);
  CHECK(logged.count("during-99") == 1);
  CHECK(logged.count("after") == 1);
  for (const auto& [imp, n] : logged) CHECK(n == 1);
}


TEST_CASE("RocksDB's disk full during the shards' flushes: retried, offsets held, counts exact after", "[api]") {
  temp_dir dir;
  // The RocksDB directory on a small filesystem of its own; the log has room.
  const std::string state_dir = dir.path() + "/data/state";
  std::filesystem::create_directories(state_dir);
  REQUIRE(::mount("tmpfs", state_dir.c_str(), "tmpfs", 0, "size=64m") == 0);
  struct unmount {
    std::string path;
    ~unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{state_dir};
  const std::string config = "[aggregation]\nflush_interval = \"100ms\"\n";
  click_server s(dir.path(), config);
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", kUrl) == 201);
  CHECK(s.click(1, "before").status == 302);
  REQUIRE(s.wait_counted_total(1, 1) == 1);

  {
    std::ofstream filler(state_dir + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  // Clicks go on: the log has room, so each is recorded and counted as a
  // click (the 302 waits for the log, not for RocksDB).
  for (int i = 0; i < 50; ++i) CHECK(s.click(1, "during-" + std::to_string(i)).status == 302);
  CHECK(s.metric("adclick_clicks_total{outcome=\"counted\"}") == 51);
  // The shards cannot commit: they retry and keep their offsets.
  bool failing = false;
  for (int i = 0; i < 300 && !failing; ++i) {
    failing = s.metric("adclick_shard_commit_failures_total") > 0;
    if (!failing) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(failing);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(s.counted_total(1) == 1);  // nothing of the failed flushes is visible
  // A duplicate of a click that is only in the log (its dedup key not yet
  // in RocksDB) is still a duplicate.
  CHECK(s.click(1, "during-7").status == 302);
  CHECK(s.metric("adclick_clicks_total{outcome=\"duplicate\"}") == 1);

  SECTION("space returns: the shards commit what they held, each click once") {
    std::filesystem::remove(state_dir + "/filler");
    CHECK(s.wait_counted_total(1, 51) == 51);
    CHECK(s.click(1, "after").status == 302);
    CHECK(s.wait_counted_total(1, 52) == 52);
    s.kill();
    s.restart();
    REQUIRE(s.ready());
    CHECK(s.wait_counted_total(1, 52) == 52);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(s.counted_total(1) == 52);
  }
  SECTION("killed while RocksDB is full: the restart replays the log, each click once") {
    s.kill();
    std::filesystem::remove(state_dir + "/filler");
    s.restart();
    REQUIRE(s.ready());
    CHECK(s.wait_counted_total(1, 51) == 51);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(s.counted_total(1) == 51);
  }
}
