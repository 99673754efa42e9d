#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
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
#include "testutil/temp_dir.h"

using namespace adclick;

namespace {

// A click log that keeps each append pending until the test completes it,
// so a test decides when (and whether) a click became durable.
class held_click_log final : public log::click_log {
 public:
  struct pending {
    log::partition_id partition;
    click_record record;
    log::append_handler done;
  };

  std::uint32_t partitions() const override { return 4; }
  void append(log::partition_id p, const click_record& r, log::append_handler done) override {
    appends.push_back({p, r, std::move(done)});
  }
  // Completes the oldest pending append: durable at the next offset of its
  // partition, or failed with ec.
  void complete_next(std::error_code ec = {}) {
    REQUIRE_FALSE(appends.empty());
    auto a = std::move(appends.front());
    appends.erase(appends.begin());
    a.done(ec, ec ? 0 : next_[a.partition]++);
  }
  log::offset_t durable_end(log::partition_id p) const override {
    auto it = next_.find(p);
    return it == next_.end() ? 0 : it->second;
  }
  log::offset_t start_offset(log::partition_id) const override { return 0; }
  std::uint64_t durable_generation() const override { return 0; }
  std::uint64_t wait_durable(std::uint64_t seen, std::chrono::steady_clock::time_point) const override {
    return seen;
  }
  std::unique_ptr<log::partition_reader> open_reader(log::partition_id, log::offset_t) override {
    return nullptr;
  }
  std::vector<log::segment_info> segments(log::partition_id) const override { return {}; }
  void set_delete_floor(log::partition_id, log::offset_t) override {}

  std::vector<pending> appends;

 private:
  std::map<log::partition_id, log::offset_t> next_;
};

constexpr std::int64_t kNowMs = 1'800'000'000'000;

struct fixture {
  testutil::temp_dir dir;
  std::unique_ptr<state::store> store;
  held_click_log log;
  std::unique_ptr<ingest::ad_registry> ads;
  ingest::signer signer{{{"k1", "0123456789abcdef0123456789abcdef"}}, "k1", 86'400};
  std::unique_ptr<ingest::dedup_index> dedup;
  ingest::partitioner parts{4, 1000, 2, {}};
  ingest::outcome_tallies tallies;
  std::unique_ptr<ingest::click_processor> clicks;

  fixture() {
    std::string err;
    auto s = state::store::open(dir.path(), err);
    INFO(err);
    REQUIRE(s);
    store = std::move(*s);
    ads = std::make_unique<ingest::ad_registry>(*store);
    bool created = false;
    std::string why;
    REQUIRE(ads->put(7, "adv-1", "https://seven.example/", created, why));
    REQUIRE(ads->put(8, "adv-1", "https://eight.example/", created, why));
    REQUIRE(ads->pause(8));
    dedup = std::make_unique<ingest::dedup_index>(store.get(), log.partitions());
    clicks = std::make_unique<ingest::click_processor>(log, *ads, *dedup, parts, signer, tallies);
  }

  std::string query(std::uint64_t ad, const std::string& imp, std::int64_t exp_s = kNowMs / 1000 + 3600) {
    return "adId=" + std::to_string(ad) + "&impressionId=" + imp + "&signature=" + signer.sign(ad, imp, exp_s);
  }
  // Processes one click; the result once done was called (nullopt while the
  // append is pending).
  std::shared_ptr<std::optional<ingest::click_result>> process(const std::string& q,
                                                              std::string_view user_agent = "ua") {
    auto out = std::make_shared<std::optional<ingest::click_result>>();
    ingest::click_context ctx;
    ctx.now_ms = kNowMs;
    ctx.user_agent = user_agent;
    clicks->process(q, ctx, [out](ingest::click_result r) {
      REQUIRE_FALSE(out->has_value());  // exactly once
      *out = std::move(r);
    });
    return out;
  }
};

}  // namespace

TEST_CASE("click_processor: a valid click is answered only once its append is durable", "[ingest]") {
  fixture f;
  auto r = f.process(f.query(7, "imp-1"), std::string(1000, 'u'));
  CHECK_FALSE(r->has_value());  // no answer before the log says durable
  REQUIRE(f.log.appends.size() == 1);
  const auto& rec = f.log.appends[0].record;
  CHECK(rec.ad_id == 7);
  CHECK(rec.impression_id == "imp-1");
  CHECK(rec.event_time_ms == kNowMs);
  CHECK(rec.key_id == "k1");
  CHECK(rec.expires_at_s == kNowMs / 1000 + 3600);
  CHECK(rec.user_agent.size() == kMaxUserAgentLength);
  CHECK(f.log.appends[0].partition == f.parts.partition_for(7, "imp-1", kNowMs));
  f.log.complete_next();
  REQUIRE(r->has_value());
  CHECK((*r)->outcome == ingest::click_outcome::counted);
  REQUIRE((*r)->ad);
  CHECK((*r)->ad->url == "https://seven.example/");
  CHECK(f.clicks->outcome_count(ingest::click_outcome::counted) == 1);

  SECTION("the same impression again is a duplicate, not appended") {
    auto again = f.process(f.query(7, "imp-1"));
    REQUIRE(again->has_value());
    CHECK((*again)->outcome == ingest::click_outcome::duplicate);
    CHECK(f.log.appends.empty());
  }
  SECTION("the same impression while its first append is still pending is a duplicate too") {
    auto first = f.process(f.query(7, "imp-2"));
    auto second = f.process(f.query(7, "imp-2"));
    REQUIRE(second->has_value());
    CHECK((*second)->outcome == ingest::click_outcome::duplicate);
    CHECK(f.log.appends.size() == 1);
    f.log.complete_next();
    CHECK((*first)->outcome == ingest::click_outcome::counted);
  }
}

TEST_CASE("click_processor: a failed append is unrecorded and its impression may come again", "[ingest]") {
  fixture f;
  auto r = f.process(f.query(7, "imp-1"));
  f.log.complete_next(std::make_error_code(std::errc::io_error));
  REQUIRE(r->has_value());
  CHECK((*r)->outcome == ingest::click_outcome::unrecorded);
  CHECK((*r)->ad);  // the user is still redirected
  auto retry = f.process(f.query(7, "imp-1"));
  REQUIRE(f.log.appends.size() == 1);
  f.log.complete_next();
  CHECK((*retry)->outcome == ingest::click_outcome::counted);
}

TEST_CASE("click_processor: rejected clicks are answered at once and never reach the log", "[ingest]") {
  fixture f;
  struct rejected {
    std::string query;
    ingest::click_outcome outcome;
  };
  const std::string good = f.signer.sign(7, "imp-1", kNowMs / 1000 + 3600);
  for (const auto& c : std::vector<rejected>{
           {"adId=7&impressionId=imp-1", ingest::click_outcome::malformed},
           {"adId=007&impressionId=imp-1&signature=" + good, ingest::click_outcome::malformed},
           {"adId=9&impressionId=imp-1&signature=" + good, ingest::click_outcome::unknown_ad},
           {f.query(8, "imp-1"), ingest::click_outcome::unknown_ad},  // paused
           {"adId=7&impressionId=imp-2&signature=" + good, ingest::click_outcome::bad_signature},
           {f.query(7, "imp-3", kNowMs / 1000 - 1), ingest::click_outcome::expired},
       }) {
    INFO(c.query);
    auto r = f.process(c.query);
    REQUIRE(r->has_value());
    CHECK((*r)->outcome == c.outcome);
  }
  CHECK(f.log.appends.empty());
  CHECK(f.clicks->outcome_count(ingest::click_outcome::malformed) == 2);
  CHECK(f.clicks->outcome_count(ingest::click_outcome::unknown_ad) == 2);
}
