// Simulated power losses across the log, the shards and the state, in
// process and fast (modelled on LevelDB's fault_injection_test and SQLite's
// crash tests).
//
// The real click path (click_processor: signature, dedup, log append), the
// real segmented log, the real shards and the real RocksDB run on real files
// under a power_loss_disk, which keeps a model of what each file holds on
// the disk (synced pages) and what only in the page cache. Clicks stream in
// from two threads, some of them copies of earlier impressions; at a random
// instant the disk is cut: the tree is copied as a power loss would leave it
// (every synced byte, and a random subset of the unsynced pages: later pages
// kept, earlier ones lost). Some cycles first fail one chosen fdatasync (a
// log segment's, the journal's, or RocksDB's WAL's) with its pages dropped,
// as Linux marks them clean. Then the copy is opened as a restart would
// (state, log with the state's offsets as its floor, shards' replay), and:
//   - every click acknowledged as counted before the cut is in the log, once;
//   - no impression is in the log twice (dedup);
//   - nothing is in the log that was not sent;
//   - the counts equal the log, click for click, per ad;
// then the recovered world takes more clicks and is cut again. Each lineage
// of cuts starts from an empty data dir, so the trees stay small.
//
// ADCLICK_TORTURE_CUTS (default 1000) and ADCLICK_TORTURE_SEED set the run;
// the seed is printed so that a failure can be replayed.

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agg/aggregator.h"
#include "base/event_clock.h"
#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/dedup_index.h"
#include "ingest/outcome_tallies.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"
#include "log/segmented_log.h"
#include "state/store.h"
#include "testutil/power_loss_disk.h"
#include "testutil/temp_dir.h"
#include "torture/rocksdb_power_loss_fs.h"

using namespace adclick;

namespace {

constexpr std::uint32_t kPartitions = 4;
constexpr std::uint64_t kAds = 3;
const std::map<std::string, std::string> kKeys = {{"k1", "0123456789abcdef0123456789abcdef"}};

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// What the test knows of the clicks, across the cuts of one lineage.
struct ledger {
  std::mutex mu;
  std::set<std::string> sent;   // every impression a click was sent for
  std::set<std::string> acked;  // answered counted (the 302 of a counted click)
  std::vector<std::string> sent_order;
};

// One incarnation of adclick's storage side on a data dir: what `serve`
// builds below the HTTP server, on the power-loss disk.
struct world {
  std::string root;
  testutil::power_loss_disk disk;
  testutil::power_loss_file_system log_fs{disk};
  std::shared_ptr<torture::power_loss_rocksdb_fs> rocks_fs =
      std::make_shared<torture::power_loss_rocksdb_fs>(disk);
  std::unique_ptr<state::store> store;
  std::unique_ptr<log::segmented_log> log;
  std::unique_ptr<ingest::ad_registry> ads;
  std::unique_ptr<ingest::signer> signer;
  std::unique_ptr<ingest::dedup_index> dedup;
  std::unique_ptr<ingest::partitioner> parts;
  ingest::outcome_tallies tallies;
  std::unique_ptr<ingest::click_processor> clicks;
  std::unique_ptr<agg::aggregator> agg;

  explicit world(std::string dir) : root(std::move(dir)), disk(root) {}

  // Opens and recovers as serve does. Fails the test on any error.
  void open(bool first) {
    std::string err;
    state::store_options so;
    so.file_system = rocks_fs;
    auto s = state::store::open(root + "/state", err, so);
    INFO(err);
    REQUIRE(s);
    store = std::move(*s);
    log::log_options lo;
    lo.dir = root + "/log";
    lo.partitions = kPartitions;
    lo.segment_size = 16 << 10;      // rolls and seals often
    lo.checkpoint_bytes = 16 << 10;  // journal switches and checkpoints often
    lo.checkpoint_interval = std::chrono::milliseconds(20);
    lo.fs = &log_fs;
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      auto off = store->get_offset(p);
      REQUIRE(off);
      lo.resume_floor.push_back(off->value_or(0));
    }
    log::recovery_report rep;
    auto l = log::segmented_log::open(lo, rep, err);
    INFO(err);
    REQUIRE(l);
    log = std::move(*l);
    log->start();
    ads = std::make_unique<ingest::ad_registry>(*store);
    REQUIRE_FALSE(ads->load());
    if (first) {
      for (std::uint64_t ad = 1; ad <= kAds; ++ad) {
        bool created = false;
        std::string why;
        REQUIRE(ads->put(ad, "adv-1", "https://shop.example.com/", created, why));
      }
    }
    signer = std::make_unique<ingest::signer>(kKeys, "k1", 3600);
    dedup = std::make_unique<ingest::dedup_index>(store.get(), kPartitions);
    parts = std::make_unique<ingest::partitioner>(kPartitions, 1'000'000, 1, std::vector<std::uint64_t>{});
    clicks = std::make_unique<ingest::click_processor>(*log, *ads, *dedup, *parts, *signer, tallies);
    agg::shard_options so2;
    so2.flush_interval = std::chrono::milliseconds(5);
    agg = std::make_unique<agg::aggregator>(*log, *store, 2, so2,
                                            [this](log::partition_id p, log::offset_t end) { dedup->committed(p, end); });
    auto rec = agg->recover();
    REQUIRE(rec);
    agg->start();
  }

  // Stops in reverse order (what it writes now no longer matters: the cut
  // was taken).
  void close() {
    if (agg) agg->stop();
    clicks.reset();
    if (log) log->stop();
    agg.reset();
    dedup.reset();
    ads.reset();
    log.reset();
    store.reset();
  }

  // Checks the invariants against the ledger as of the cut.
  void verify(const std::set<std::string>& sent, const std::set<std::string>& acked) {
    std::map<std::string, int> in_log;
    std::map<std::uint64_t, std::uint64_t> per_ad;
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      auto r = log->open_reader(p, 0);
      for (;;) {
        auto n = r->read(4096, [&](log::offset_t, const click_view& v) {
          ++in_log[std::string(v.impression_id)];
          ++per_ad[v.ad_id];
        });
        REQUIRE(n);
        if (*n == 0) break;
      }
    }
    std::size_t lost = 0, twice = 0, unsent = 0;
    std::string unsent_names;
    for (const auto& imp : acked) {
      if (in_log.count(imp) == 0) {
        ++lost;
        UNSCOPED_INFO("acknowledged but not in the log: " << imp);
      }
    }
    for (const auto& [imp, n] : in_log) {
      if (n > 1) ++twice;
      if (sent.count(imp) == 0) {
        ++unsent;
        unsent_names += " " + imp;
      }
    }
    REQUIRE(lost == 0);
    CHECK(twice == 0);
    INFO("in the log but never sent:" << unsent_names);
    CHECK(unsent == 0);
    // The shards have replayed everything: the counts are the log's.
    for (std::uint64_t ad = 1; ad <= kAds; ++ad) {
      std::uint64_t counted = 0;
      REQUIRE_FALSE(store->scan_counts(ad, 0, INT64_MAX / 120, [&](std::int64_t, state::tally_kind k, std::uint64_t v) {
        if (k == state::tally_kind::clicks || k == state::tally_kind::late) counted += v;
      }));
      INFO("ad " << ad);
      CHECK(counted == per_ad[ad]);
    }
    for (std::uint32_t p = 0; p < kPartitions; ++p) CHECK(log->holes(p).empty());
  }
};

enum class fault { none, segment_sync, journal_sync, rocksdb_wal_sync };

const char* to_string(fault f) {
  switch (f) {
    case fault::none: return "none";
    case fault::segment_sync: return "segment fdatasync";
    case fault::journal_sync: return "journal fdatasync";
    case fault::rocksdb_wal_sync: return "RocksDB WAL sync";
  }
  return "?";
}

// Sends clicks from two threads until `stop`; a sixth of them are copies of
// impressions sent before (retries, double clicks), some from earlier cuts.
void send_clicks(world& w, ledger& book, const std::array<std::uint64_t, 2>& seeds, std::atomic<bool>& stop,
                 std::atomic<std::uint64_t>& answered, const std::string& tag) {
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t, seed = seeds[static_cast<std::size_t>(t)]] {
      std::mt19937_64 rng(seed);
      for (std::uint64_t i = 0; !stop.load(); ++i) {
        std::string imp;
        {
          std::lock_guard lk(book.mu);
          if (!book.sent_order.empty() && rng() % 6 == 0) {
            imp = book.sent_order[rng() % book.sent_order.size()];
          } else {
            imp = tag + "-" + std::to_string(t) + "-" + std::to_string(i);
            book.sent_order.push_back(imp);
          }
          book.sent.insert(imp);
        }
        // The ad is part of the impression's identity: derive it from the id.
        const std::uint64_t ad = 1 + std::hash<std::string>()(imp) % kAds;
        const std::int64_t now = base::event_now_ms();
        const std::string query = "adId=" + std::to_string(ad) + "&impressionId=" + imp +
                                  "&signature=" + w.signer->sign(ad, imp, now / 1000 + 3600);
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        ingest::click_context ctx;
        ctx.now_ms = now;
        ctx.user_agent = "torture";
        w.clicks->process(query, ctx, [&](ingest::click_result r) {
          if (std::getenv("ADCLICK_TORTURE_TRACE") != nullptr) {
            std::fprintf(stderr, "trace %s %s\n", imp.c_str(), std::string(ingest::to_string(r.outcome)).c_str());
          }
          if (r.outcome == ingest::click_outcome::counted) {
            std::lock_guard lk(book.mu);
            book.acked.insert(imp);
          }
          std::lock_guard lk(mu);
          done = true;
          cv.notify_all();
        });
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return done; });
        answered.fetch_add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
}

}  // namespace

TEST_CASE("power loss at random instants, with failed fsyncs: every acknowledged click counted exactly once",
          "[torture]") {
  const std::uint64_t cuts = env_u64("ADCLICK_TORTURE_CUTS", 1000);
  const std::uint64_t seed = env_u64("ADCLICK_TORTURE_SEED", std::random_device{}());
  const bool keep = std::getenv("ADCLICK_KEEP_TEST_DIRS") != nullptr;  // for a post-mortem
  constexpr std::uint64_t kCutsPerLineage = 20;
  std::printf("torture: %llu cuts, seed %llu (ADCLICK_TORTURE_SEED replays it)\n",
              static_cast<unsigned long long>(cuts), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  testutil::temp_dir base("adclick-torture");
  std::uint64_t failures_injected = 0, acked_total = 0, cycles_with_fault = 0;
  std::map<fault, std::uint64_t> by_fault;
  const auto t0 = std::chrono::steady_clock::now();

  for (std::uint64_t cut = 0; cut < cuts;) {
    ledger book;
    std::string dir = base / ("lineage-" + std::to_string(cut));
    std::filesystem::create_directories(dir);
    auto w = std::make_unique<world>(dir);
    w->open(true);
    for (std::uint64_t k = 0; k < kCutsPerLineage && cut < cuts; ++k, ++cut) {
      INFO("cut " << cut << ", seed " << seed);
      // One cycle in seven fails an fdatasync first.
      fault f = fault::none;
      if (cut % 7 == 3) f = static_cast<fault>(1 + rng() % 3);
      INFO("fault: " << to_string(f));
      std::atomic<bool> stop{false};
      std::atomic<std::uint64_t> answered{0};
      const std::array<std::uint64_t, 2> seeds{rng(), rng()};
      std::thread sender([&, tag = "c" + std::to_string(cut)] { send_clicks(*w, book, seeds, stop, answered, tag); });
      const std::uint64_t before_fault = 5 + rng() % 60;
      while (answered.load() < before_fault) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (f != fault::none) {
        const std::string state_dir = dir + "/state/";
        w->disk.fail_next_sync([f, state_dir](const std::string& path) {
          switch (f) {
            case fault::segment_sync: return path.ends_with(".seg");
            case fault::journal_sync: return path.ends_with(".jnl");
            case fault::rocksdb_wal_sync: return path.starts_with(state_dir) && path.ends_with(".log");
            case fault::none: return false;
          }
          return false;
        });
        // Until the failure has happened (a checkpoint, a commit, a flush),
        // then a little more traffic on the damaged world.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (w->disk.failure_pending() && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        const std::uint64_t after = answered.load() + rng() % 40;
        while (answered.load() < after) std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else {
        const std::uint64_t more = answered.load() + rng() % 150;
        while (answered.load() < more) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      // The power goes: the disk as it is this instant, and what had been
      // acknowledged by then.
      std::set<std::string> sent, acked;
      const std::string next = base / ("cut-" + std::to_string(cut));
      // Acknowledged: as of the instant the cut begins (a subset of what the
      // image holds). Sent: as of after it (a superset: a write finishing
      // while the image is copied may be in it).
      w->disk.image(next, rng, true, [&] {
        std::lock_guard lk(book.mu);
        acked = book.acked;
      });
      {
        std::lock_guard lk(book.mu);
        sent = book.sent;
      }
      if (!w->disk.failure_pending() && f != fault::none && w->disk.failures_injected() > 0) {
        ++failures_injected;
        ++cycles_with_fault;
        ++by_fault[f];
      }
      stop = true;
      sender.join();
      w->close();
      w.reset();
      {
        // What that world acknowledged after the cut died with it.
        std::lock_guard lk(book.mu);
        book.acked = acked;
      }
      if (!keep) std::filesystem::remove_all(dir);
      if (keep) std::filesystem::copy(next, next + ".image", std::filesystem::copy_options::recursive);
      // The restart.
      dir = next;
      w = std::make_unique<world>(dir);
      w->open(false);
      w->verify(sent, acked);
      acked_total += acked.size();
    }
    w->close();
    w.reset();
    if (!keep) std::filesystem::remove_all(dir);
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("torture: %llu cuts in %lld s, %llu failed fsyncs (segment %llu, journal %llu, RocksDB WAL %llu), "
              "acknowledged clicks checked %llu times in all\n",
              static_cast<unsigned long long>(cuts), static_cast<long long>(secs),
              static_cast<unsigned long long>(failures_injected),
              static_cast<unsigned long long>(by_fault[fault::segment_sync]),
              static_cast<unsigned long long>(by_fault[fault::journal_sync]),
              static_cast<unsigned long long>(by_fault[fault::rocksdb_wal_sync]),
              static_cast<unsigned long long>(acked_total));
  CHECK(failures_injected >= cuts / 10);
  (void)cycles_with_fault;
}
