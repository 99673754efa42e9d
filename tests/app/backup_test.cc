// Online backup and restore against the real binary: a backup taken under
// load, verified, restored into a fresh data dir and served.

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "testutil/click_server.h"
#include "testutil/config_file.h"
#include "testutil/http_client.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

using namespace adclick::testutil;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Small segments, so that the backup has sealed ones to hard-link.
const std::string kLogConfig = "[log]\npartitions = 4\nsegment_size = \"4KiB\"\n";

http_response post_backup(click_server& s, const std::string& path) {
  return http_request(s.port(), "POST", "/api/v1/backups",
                      std::string("Authorization: Bearer ") + kTestAdminToken +
                          "\r\nContent-Type: application/json\r\n",
                      json{{"path", path}}.dump());
}

}  // namespace

TEST_CASE(
    "backup under load: verified, restored into a fresh data dir, served with the cut's counts",
    "[app]") {
  temp_dir dir;
  std::filesystem::create_directories(dir / "live");
  click_server s(dir / "live", kLogConfig);
  INFO(s.proc().output());
  REQUIRE(s.ready());
  REQUIRE(s.register_ad(7, "adv-1", "https://shop.example.com/a") == 201);

  // Acknowledged before the backup starts: these must be in it.
  constexpr int kBefore = 200;
  for (int i = 0; i < kBefore; ++i)
    REQUIRE(s.click(7, "before-" + std::to_string(i)).status == 302);

  // Clicks keep flowing while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> during{0};
  std::thread load([&] {
    for (int i = 0; !stop.load(); ++i) {
      if (s.click(7, "during-" + std::to_string(i)).status == 302) ++during;
    }
  });
  while (during.load() < 50) std::this_thread::sleep_for(1ms);
  const auto r = post_backup(s, dir / "b1");
  std::this_thread::sleep_for(200ms);
  stop = true;
  load.join();
  INFO(r.body);
  REQUIRE(r.status == 201);
  const json m = json::parse(r.body);
  const long long records = m.at("records").get<long long>();
  CHECK(records >= kBefore + 50);
  CHECK(records <= kBefore + during.load());
  CHECK(m.at("hardLinkedFiles").get<int>() > 0);  // sealed segments, same file system
  CHECK(m.at("partitions").get<int>() == 4);
  long long cut_records = 0;
  for (const auto& c : m.at("cut"))
    cut_records += c.at("end").get<long long>() - c.at("start").get<long long>();
  CHECK(cut_records == records);
  CHECK(std::filesystem::exists(dir / "b1/manifest.json"));
  CHECK(s.wait_counted_total(7, kBefore + during.load()) == kBefore + during.load());

  // A second backup into the same directory, a relative path: refused.
  CHECK(post_backup(s, dir / "b1").status == 409);
  CHECK(post_backup(s, "relative/dir").status == 400);
  CHECK_THAT(post_backup(s, dir / "live/data/log/inside").body,
             Catch::Contains("inside the data dir"));
  CHECK_FALSE(std::filesystem::exists(dir / "live/data/log/inside"));
  CHECK(http_request(s.port(), "POST", "/api/v1/backups",
                     std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n",
                     json{{"path", dir / "b3"}, {"maxRate", "1KiB"}}.dump())
            .status == 400);  // slower than 1MiB/s would hold the segments for hours
  CHECK(http_request(s.port(), "POST", "/api/v1/backups", "", json{{"path", dir / "b2"}}.dump())
            .status == 401);

  const auto [verify_rc, verified] = run({ADCLICK_BINARY, "backup", "verify", dir / "b1"});
  CHECK(verify_rc == 0);
  CHECK_THAT(verified,
             Catch::Contains("ok: ") && Catch::Contains(std::to_string(records) + " records"));

  // Restored into a fresh data dir and served: exactly the cut's clicks.
  std::filesystem::create_directories(dir / "restored");
  const std::string restored_cfg = write_test_config(dir / "restored", kLogConfig);
  const auto [restore_rc, restore_out] =
      run({ADCLICK_BINARY, "restore", "--from", dir / "b1", "--config", restored_cfg});
  INFO(restore_out);
  REQUIRE(restore_rc == 0);
  // Never over a data dir that holds something.
  const auto [again_rc, again_out] =
      run({ADCLICK_BINARY, "restore", "--from", dir / "b1", "--config", restored_cfg});
  CHECK(again_rc == 1);
  CHECK_THAT(again_out, Catch::Contains("is not empty"));
  s.stop();
  {
    adclick_server restored(restored_cfg, dir / "restored/out.txt");
    INFO(restored.proc().output());
    REQUIRE(restored.ready());
    const std::int64_t now = unix_now_s();
    const std::string query = "/api/v1/ads/7/aggregates?from=" + std::to_string(now - 3600) +
                              "&to=" + std::to_string(now + 3600);
    long long total = -1;
    for (int i = 0; i < 500 && total != records; ++i) {
      const auto q = http_get(restored.port(), query,
                              std::string("Authorization: Bearer ") + kTestAdminToken + "\r\n");
      const auto at = q.body.find("\"total\":");
      total = at == std::string::npos ? -1 : std::stoll(q.body.substr(at + 8));
      if (total != records) std::this_thread::sleep_for(20ms);
    }
    CHECK(total == records);
    // Clicks acknowledged before the backup are known to the restored
    // server's dedup state: duplicates now.
    for (int i = 0; i < kBefore; i += 40) {
      CHECK(http_get(restored.port(), click_server::click_path(7, "before-" + std::to_string(i)))
                .status == 302);
    }
    CHECK_THAT(http_get(restored.port(), "/metrics").body,
               Catch::Contains("adclick_clicks_total{outcome=\"duplicate\"} 5\n"));
    restored.proc().signal(SIGTERM);
    CHECK(restored.proc().wait() == 0);
  }

  // A damaged file: verify names it, restore refuses.
  {
    std::fstream f(dir / "b1/log/LOG_META", std::ios::in | std::ios::out | std::ios::binary);
    char c = 0;
    f.seekg(3);
    f.get(c);
    f.seekp(3);
    f.put(static_cast<char>(c ^ 0x20));
  }
  const auto [bad_rc, bad] = run({ADCLICK_BINARY, "backup", "verify", dir / "b1"});
  CHECK(bad_rc == 1);
  CHECK_THAT(bad, Catch::Contains("log/LOG_META") && Catch::Contains("damaged"));
  std::filesystem::create_directories(dir / "other");
  const std::string other_cfg = write_test_config(dir / "other", kLogConfig);
  const auto [refused_rc, refused] =
      run({ADCLICK_BINARY, "restore", "--from", dir / "b1", "--config", other_cfg});
  CHECK(refused_rc == 1);
  CHECK_THAT(refused, Catch::Contains("does not verify"));
  CHECK_FALSE(std::filesystem::exists(dir / "other/data"));

  // A restore that did not finish leaves its marker: serve refuses the dir.
  std::filesystem::create_directories(dir / "other/data");
  std::ofstream(dir / "other/data/RESTORING") << "restoring from " << (dir / "b1") << "\n";
  const auto [serve_rc, serve_out] = run({ADCLICK_BINARY, "serve", "--config", other_cfg}, 30s);
  CHECK(serve_rc == 1);
  CHECK_THAT(serve_out, Catch::Contains("unfinished restore"));
}
