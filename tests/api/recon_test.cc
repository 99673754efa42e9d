// The batch layer against the real binary: reconciliations over the API,
// a run killed midway, and the reconciled state in the query.

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "log/archive.h"
#include "log/segmented_log.h"
#include "state/store.h"
#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::testutil;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kMin = 60'000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Fills a stopped data dir as if a server had taken `per_ad` clicks for ads
// 1 and 2 over ten minutes starting at `start_ms`, and its speed layer had
// counted them, except that ad 1's first minute is stored wrong and ad 2's
// first minute is missing.
void prefill(const std::string& data_dir, std::int64_t start_ms, int per_ad) {
  {
    log::log_options o;
    o.dir = data_dir + "/log";
    o.partitions = 4;
    o.mode = log::durability::os;
    log::recovery_report rep;
    std::string err;
    auto lg = log::segmented_log::open(o, rep, err);
    INFO(err);
    REQUIRE(lg);
    (*lg)->start();
    std::atomic<int> pending{0};
    std::atomic<int> failed{0};
    for (int i = 0; i < per_ad; ++i) {
      for (std::uint64_t ad = 1; ad <= 2; ++ad) {
        click_record r;
        r.event_time_ms = start_ms + static_cast<std::int64_t>(i) * 10 * kMin / per_ad;
        r.ad_id = ad;
        r.expires_at_s = r.event_time_ms / 1000 + 3600;
        r.key_id = "k1";
        r.impression_id = "imp-" + std::to_string(ad) + "-" + std::to_string(i);
        r.user_agent = "prefill";
        ++pending;
        (*lg)->append(static_cast<log::partition_id>((ad + static_cast<std::uint64_t>(i)) % 4), r,
                      [&](std::error_code ec, log::offset_t) {
                        if (ec) ++failed;
                        --pending;
                      });
      }
      while (pending > 4096) std::this_thread::sleep_for(1ms);
    }
    while (pending > 0) std::this_thread::sleep_for(1ms);
    REQUIRE(failed == 0);
    std::string err2;
    auto st = state::store::open(data_dir + "/state", err2);
    REQUIRE(st);
    state::write_batch b;
    for (int i = 0; i < per_ad; ++i) {
      const std::int64_t t = start_ms + static_cast<std::int64_t>(i) * 10 * kMin / per_ad;
      for (std::uint64_t ad = 1; ad <= 2; ++ad) b.add_count(ad, t / kMin, state::tally_kind::clicks, 1);
    }
    for (std::uint64_t ad = 1; ad <= 2; ++ad) b.put_active(start_ms / kMin / 60, ad);
    REQUIRE_FALSE((*st)->write(b, true));
    state::write_batch damage;
    damage.set_count(1, start_ms / kMin, state::tally_kind::clicks, 7);  // changed
    damage.set_count(2, start_ms / kMin, state::tally_kind::clicks, 0);  // as good as deleted
    for (std::uint32_t s = 0; s < 2; ++s) damage.put_watermark(s, start_ms + 11 * kMin + 70'000);
    for (std::uint32_t p = 0; p < 4; ++p) damage.put_offset(p, (*lg)->durable_end(p));
    REQUIRE_FALSE((*st)->write(damage, true));
    (*lg)->stop();
  }
}

json get_json(click_server& s, const std::string& path) {
  auto r = s.admin("GET", path);
  INFO(path << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

// Polls a report until `pred` holds (or 30 s pass).
json wait_report(click_server& s, std::uint64_t id, const std::function<bool(const json&)>& pred) {
  json rep;
  for (int i = 0; i < 3000; ++i) {
    rep = get_json(s, "/api/v1/reconciliations/" + std::to_string(id));
    if (pred(rep)) return rep;
    std::this_thread::sleep_for(10ms);
  }
  return rep;
}

std::uint64_t total(click_server& s, std::uint64_t ad, std::int64_t from_ms, std::int64_t to_ms) {
  const json j = get_json(s, "/api/v1/ads/" + std::to_string(ad) + "/aggregates?from=" +
                                 std::to_string(from_ms / 1000) + "&to=" + std::to_string(to_ms / 1000));
  return j.at("total").get<std::uint64_t>();
}

}  // namespace

TEST_CASE("reconciliation over the API: drift repaired, reports, a SIGKILL mid-run, reconciled points",
          "[api][recon]") {
  temp_dir dir;
  const std::int64_t start = (now_ms() - 3 * 3'600'000) / 3'600'000 * 3'600'000 + 5 * kMin;
  const int per_ad = 20000;
  // The config first (the prefill writes under its data dir), then the data.
  const std::string reconcile = "[log]\npartitions = 4\n[reconcile]\ninterval = \"1h\"\nmax_read_rate = \"1MiB\"\n";
  write_test_config(dir.path(), reconcile);
  prefill(dir.path() + "/data", start, per_ad);
  click_server s(dir.path(), reconcile);
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(1, "adv-1", "https://shop.example.com/") == 201);
  REQUIRE(s.register_ad(2, "adv-2", "https://shop.example.com/") == 201);
  const std::int64_t end = start + 10 * kMin;
  CHECK(total(s, 1, start, end) == static_cast<std::uint64_t>(per_ad) + 7 - per_ad / 10);
  CHECK(total(s, 2, start, end) == static_cast<std::uint64_t>(per_ad) - per_ad / 10);

  // Validation and auth.
  CHECK(s.admin("POST", "/api/v1/reconciliations", R"({"from":"x","to":1})").status == 400);
  CHECK(s.admin("POST", "/api/v1/reconciliations", R"({"from":20,"to":10})").status == 400);
  CHECK(s.admin("POST", "/api/v1/reconciliations", R"({"from":10,"to":20,"x":1})").status == 400);
  CHECK(s.admin("POST", "/api/v1/reconciliations", "not json").status == 400);
  CHECK(http_request(s.port(), "POST", "/api/v1/reconciliations", "", R"({"from":10,"to":20})").status == 401);
  CHECK(http_get(s.port(), "/api/v1/reconciliations", "Authorization: Bearer test-key-for-adv-1-xyz\r\n").status == 401);
  CHECK(s.admin("GET", "/api/v1/reconciliations/999").status == 404);

  // A run over the whole range, killed while it reads (paced at 1 MiB/s,
  // the log holds a few MB), then completed by the restarted server.
  const std::string body = "{\"from\":" + std::to_string(start / 1000 - 3600) + ",\"to\":" +
                           std::to_string(end / 1000 + 60) + "}";
  auto posted = s.admin("POST", "/api/v1/reconciliations", body);
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  const std::uint64_t id = json::parse(posted.body).at("id").get<std::uint64_t>();
  CHECK(posted.headers["location"] == "/api/v1/reconciliations/" + std::to_string(id));
  auto running = wait_report(s, id, [](const json& r) { return r.at("state") != "queued"; });
  REQUIRE(running.at("state") == "running");
  s.kill();
  s.restart();
  REQUIRE(s.ready());
  auto done = wait_report(s, id, [](const json& r) { return r.at("state") == "done"; });
  INFO(done.dump());
  REQUIRE(done.at("state") == "done");
  CHECK(done.at("attempts") == 2);
  CHECK(done.at("recordsInRange") == 2 * per_ad);
  CHECK(done.at("corruptStretches") == 0);
  CHECK(done.at("from").is_string());  // RFC 3339 beside fromMs
  CHECK(total(s, 1, start, end) == static_cast<std::uint64_t>(per_ad));
  CHECK(total(s, 2, start, end) == static_cast<std::uint64_t>(per_ad));
  // The two damaged minutes, whichever attempt corrected them.
  const json list = get_json(s, "/api/v1/reconciliations");
  REQUIRE(list.at("reconciliations").size() >= 1);
  CHECK(list.at("reconciliations")[0].at("id") == id);  // newest first
  // An API run that does not start at the reconciled mark leaves it alone.
  const json series = get_json(s, "/api/v1/ads/1/aggregates?from=" + std::to_string(start / 1000) +
                                      "&to=" + std::to_string(end / 1000));
  CHECK(series.at("reconciledThrough").is_null());
  CHECK(series.at("series")[0].at("state") == "final");

  // A periodic run (every second now) covers everything from the log's start
  // and moves reconciledThrough: the points turn reconciled.
  s.stop();
  write_test_config(dir.path(), "[log]\npartitions = 4\n[reconcile]\ninterval = \"1s\"\n");
  s.restart();
  REQUIRE(s.ready());
  json after;
  for (int i = 0; i < 500; ++i) {
    after = get_json(s, "/api/v1/ads/1/aggregates?from=" + std::to_string(start / 1000) + "&to=" +
                            std::to_string(end / 1000));
    if (!after.at("reconciledThrough").is_null()) break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE_FALSE(after.at("reconciledThrough").is_null());
  CHECK(after.at("series")[0].at("state") == "reconciled");
  CHECK(after.at("total") == per_ad);
  CHECK(s.metric("adclick_reconcile_runs_total{outcome=\"done\"}") >= 1);
}

TEST_CASE("adclick reconcile on a stopped server's data dir, and refused while it runs", "[api][recon]") {
  temp_dir dir;
  const std::int64_t start = (now_ms() - 3 * 3'600'000) / 3'600'000 * 3'600'000 + 5 * kMin;
  const std::string extra = "[log]\npartitions = 4\n";
  const std::string config = write_test_config(dir.path(), extra);
  prefill(dir.path() + "/data", start, 600);
  const std::string from = std::to_string(start / 1000 - 3600);
  const std::string to = std::to_string(start / 1000 + 3600);

  process run({ADCLICK_BINARY, "reconcile", "--config", config, "--from", from, "--to", to},
              dir.path() + "/cli.txt");
  auto code = run.wait();
  std::ifstream out(dir.path() + "/cli.txt");
  const std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  INFO(text);
  REQUIRE(code);
  CHECK(*code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex(R"(\{"attempts".*\})")));
  const json rep = json::parse(m.str());
  CHECK(rep.at("state") == "done");
  CHECK(rep.at("trigger") == "cli");
  CHECK(rep.at("rowsCorrected") == 2);
  CHECK(rep.at("driftNet") == (60 - 7) + (60 - 0));

  // From the archive: the live segments archived (as a periodic run would
  // once they are covered), a counter damaged again, recounted from there.
  {
    std::string err;
    auto archive = log::segment_archive::open(dir.path() + "/archive", err);
    REQUIRE(archive);
    log::log_options o;
    o.dir = dir.path() + "/data/log";
    o.partitions = 4;
    log::recovery_report rep;
    auto lg = log::segmented_log::open(o, rep, err);
    REQUIRE(lg);
    for (std::uint32_t p = 0; p < 4; ++p) {
      for (const auto& seg : (*lg)->segments(p)) REQUIRE_FALSE((*archive)->add(o.dir, p, seg));
    }
    (*lg)->stop();
    auto st = state::store::open(dir.path() + "/data/state", err);
    REQUIRE(st);
    state::write_batch damage;
    damage.set_count(2, start / kMin + 3, state::tally_kind::clicks, 1000);
    REQUIRE_FALSE((*st)->write(damage, true));
  }
  std::string with_archive;
  {
    std::ifstream in(config);
    with_archive.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  const auto at = with_archive.find("[storage]\n");
  REQUIRE(at != std::string::npos);
  with_archive.insert(at + 10, "archive_dir = \"" + dir.path() + "/archive\"\n");
  const std::string archive_config = dir.path() + "/with-archive.toml";
  std::ofstream(archive_config) << with_archive;
  auto [arc_code, arc_out] = testutil::run({ADCLICK_BINARY, "reconcile", "--config", archive_config, "--from", from, "--to",
                                  to, "--from-archive"});
  INFO(arc_out);
  CHECK(arc_code == 0);
  REQUIRE(std::regex_search(arc_out, m, std::regex(R"(\{"attempts".*\})")));
  const json arc = json::parse(m.str());
  CHECK(arc.at("rowsCorrected") == 1);
  CHECK(arc.at("driftNet") == 60 - 1000);
  auto [insp_code, insp_out] = testutil::run({ADCLICK_BINARY, "log", "inspect", dir.path() + "/archive"});
  INFO(insp_out);
  CHECK(insp_code == 0);
  CHECK(insp_out.find("clean") != std::string::npos);

  // Bad arguments: one line, exit 2.
  process bad({ADCLICK_BINARY, "reconcile", "--config", config, "--from", to, "--to", from},
              dir.path() + "/bad.txt");
  auto bad_code = bad.wait();
  REQUIRE(bad_code);
  CHECK(*bad_code == 2);

  // With the server running on the data dir: refused, pointing at the API.
  click_server s(dir.path(), extra);
  REQUIRE(s.ready());
  process busy({ADCLICK_BINARY, "reconcile", "--config", config, "--from", from, "--to", to},
               dir.path() + "/busy.txt");
  auto busy_code = busy.wait();
  REQUIRE(busy_code);
  CHECK(*busy_code == 1);
  std::ifstream busy_out(dir.path() + "/busy.txt");
  const std::string busy_text((std::istreambuf_iterator<char>(busy_out)), std::istreambuf_iterator<char>());
  CHECK(busy_text.find("in use") != std::string::npos);
}
