// The Kafka log on librdkafka's mock cluster (real Kafka protocol on
// loopback): appends acknowledged by the in-sync replicas, readers, broker
// failures, leader changes, damaged records.

#include "kafka/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <limits>
#include <chrono>
#include <future>
#include <thread>

#include "kafka/mock_cluster.h"
#include "log/log_errc.h"

namespace {

using namespace adclick;
using namespace std::chrono_literals;

click_record make_record(std::uint64_t ad, int i) {
  click_record r;
  r.event_time_ms = 1'700'000'000'000 + i;
  r.ad_id = ad;
  r.expires_at_s = 1'700'086'400;
  r.key_id = "k1";
  r.impression_id = "imp-" + std::to_string(i);
  r.client.family = 4;
  r.client.bytes = {127, 0, 0, 1};
  r.user_agent = "test-agent";
  return r;
}

struct cluster {
  std::unique_ptr<kafka::mock_cluster> mock;
  explicit cluster(int brokers = 3, int partitions = 4) {
    std::string error;
    auto m = kafka::mock_cluster::start(brokers, error);
    INFO(error);
    REQUIRE(m.has_value());
    mock = std::move(*m);
    REQUIRE_FALSE(mock->create_topic("clicks", partitions, std::min(brokers, 3)));
  }
  kafka::kafka_log_options options(std::uint32_t partitions = 4) const {
    kafka::kafka_log_options o;
    o.client.bootstrap_servers = mock->bootstrap_servers();
    o.client.client_id = "test";
    o.partitions = partitions;
    o.append_timeout = 3s;
    return o;
  }
};

std::unique_ptr<kafka::kafka_log> open_log(const kafka::kafka_log_options& o) {
  std::string error;
  auto l = kafka::kafka_log::open(o, error);
  INFO(error);
  REQUIRE(l.has_value());
  return std::move(*l);
}

// Reads p from `from` until `want` records arrived or 10 s passed.
std::vector<std::pair<log::offset_t, click_record>> read_all(log::click_log& l, log::partition_id p,
                                                             log::offset_t from, std::size_t want,
                                                             std::vector<log::corruption>* bad = nullptr) {
  std::vector<std::pair<log::offset_t, click_record>> out;
  auto reader = l.open_reader(p, from);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto n = reader->read(1000, [&](log::offset_t o, const click_view& v) { out.emplace_back(o, v.to_record()); }, bad);
    REQUIRE(n.has_value());
    if (*n == 0) std::this_thread::sleep_for(5ms);
  }
  return out;
}

}  // namespace

TEST_CASE("kafka log: appends come back in order with their offsets, from the in-sync replicas", "[kafka]") {
  cluster c;
  auto l = open_log(c.options());
  CHECK(l->partitions() == 4);
  CHECK(l->brokers_reachable());
  for (int i = 0; i < 50; ++i) {
    auto off = l->append_and_wait(static_cast<log::partition_id>(i % 2), make_record(7, i));
    REQUIRE(off.has_value());
    CHECK(*off == static_cast<log::offset_t>(i / 2));
  }
  CHECK(l->durable_end(0) == 25);
  CHECK(l->durable_end(1) == 25);
  CHECK(l->durable_end(2) == 0);
  CHECK(l->start_offset(0) == 0);

  const auto got = read_all(*l, 1, 0, 25);
  REQUIRE(got.size() == 25);
  for (std::size_t k = 0; k < got.size(); ++k) {
    CHECK(got[k].first == k);
    CHECK(got[k].second == make_record(7, static_cast<int>(2 * k + 1)));
  }
  // From the middle, and after a seek.
  auto mid = read_all(*l, 0, 20, 5);
  REQUIRE(mid.size() == 5);
  CHECK(mid.front().first == 20);
  auto reader = l->open_reader(0, 0);
  reader->seek(24);
  CHECK(reader->position() == 24);
  std::vector<log::offset_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(reader->read(10, [&](log::offset_t o, const click_view&) { seen.push_back(o); }).has_value());
    std::this_thread::sleep_for(5ms);
  }
  CHECK(seen == std::vector<log::offset_t>{24});
  CHECK(reader->position() == 25);

  // What the batch layer plans by: one stretch per partition, starting at
  // the event time of its oldest record, its end unknown.
  const auto segs = l->segments(1);
  REQUIRE(segs.size() == 1);
  CHECK(segs[0].base_offset == 0);
  CHECK(segs[0].end_offset == 25);
  CHECK(segs[0].min_event_time_ms == make_record(7, 1).event_time_ms);
  CHECK(segs[0].max_event_time_ms == std::numeric_limits<std::int64_t>::max());
  CHECK(l->segments(2).empty());

  // A second log (another node) sees the same records.
  auto other = open_log(c.options());
  CHECK(other->durable_end(1) == 25);
  CHECK(read_all(*other, 1, 0, 25).size() == 25);

  l->stop();
  std::promise<std::error_code> refused;
  l->append(0, make_record(7, 99), [&](std::error_code ec, log::offset_t) { refused.set_value(ec); });
  CHECK(refused.get_future().get() == log::log_errc::stopped);
}

TEST_CASE("kafka log: a missing topic or a different partition count is refused by name", "[kafka]") {
  cluster c;
  std::string error;
  auto o = c.options(8);
  auto l = kafka::kafka_log::open(o, error);
  CHECK_FALSE(l.has_value());
  CHECK(error.find("has 4 partitions but log.partitions is 8") != std::string::npos);

  // A topic that is not there: refused, or (on a cluster that creates
  // topics when asked for them, as the mock does) created with the
  // cluster's default partition count, which is not this one.
  o = c.options(7);
  o.topic = "nosuch";
  o.open_timeout = 3s;
  l = kafka::kafka_log::open(o, error);
  CHECK_FALSE(l.has_value());
  INFO(error);
  CHECK(error.find("topic \"nosuch\"") != std::string::npos);
}

TEST_CASE("kafka log: with every broker down an append fails within append_timeout, and works again after", "[kafka]") {
  cluster c;
  auto o = c.options();
  o.append_timeout = 500ms;
  auto l = open_log(o);
  REQUIRE(l->append_and_wait(0, make_record(1, 0)).has_value());
  for (int b = 1; b <= 3; ++b) REQUIRE_FALSE(c.mock->set_broker_down(b));

  const auto t0 = std::chrono::steady_clock::now();
  auto failed = l->append_and_wait(0, make_record(1, 1));
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error() == log::log_errc::timed_out);
  // The log's own deadline: append_timeout and its poll interval (100 ms).
  CHECK(took < 1s);
  // Not reachable once the watermark queries go unanswered; appends then
  // fail at once.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (l->brokers_reachable() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  CHECK_FALSE(l->brokers_reachable());
  const auto t1 = std::chrono::steady_clock::now();
  auto refused = l->append_and_wait(0, make_record(1, 1));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == log::log_errc::unreachable);
  CHECK(std::chrono::steady_clock::now() - t1 < 50ms);

  for (int b = 1; b <= 3; ++b) REQUIRE_FALSE(c.mock->set_broker_up(b));
  result<log::offset_t> again = log::log_errc::stopped;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!again && std::chrono::steady_clock::now() < until) again = l->append_and_wait(0, make_record(1, 2));
  REQUIRE(again.has_value());
  CHECK(*again == 1);  // the timed-out record holds no offset
  const auto got = read_all(*l, 0, 0, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[1].second == make_record(1, 2));
}

TEST_CASE("kafka log: a leader change under load loses and doubles nothing", "[kafka]") {
  cluster c;
  auto l = open_log(c.options());
  constexpr int kRecords = 2000;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::atomic<int> done{0};
  for (int i = 0; i < kRecords; ++i) {
    if (i == kRecords / 2) {
      REQUIRE_FALSE(c.mock->set_leader("clicks", 0, 2));
      REQUIRE_FALSE(c.mock->set_leader("clicks", 0, 3));
    }
    l->append(0, make_record(3, i), [&](std::error_code ec, log::offset_t) {
      (ec ? failed : ok).fetch_add(1);
      done.fetch_add(1);
    });
    if (i % 100 == 0) std::this_thread::sleep_for(2ms);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (done.load() < kRecords && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  REQUIRE(done.load() == kRecords);
  CHECK(failed.load() == 0);
  const auto got = read_all(*l, 0, 0, kRecords);
  REQUIRE(got.size() == static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) CHECK(got[static_cast<std::size_t>(i)].second.impression_id == "imp-" + std::to_string(i));
  CHECK(l->durable_end(0) == static_cast<log::offset_t>(kRecords));
}

TEST_CASE("kafka log: a record that is not a well-formed click is reported and skipped", "[kafka]") {
  cluster c;
  auto l = open_log(c.options());
  REQUIRE(l->append_and_wait(2, make_record(5, 0)).has_value());
  // Something else writes to the topic: garbage, then a frame with one byte flipped.
  std::string error;
  auto raw = kafka::make_client(kafka::client_kind::producer, c.options().client, {}, nullptr, nullptr, error);
  REQUIRE(raw.has_value());
  const std::string garbage = "not a click";
  REQUIRE(rd_kafka_producev(raw->get(), RD_KAFKA_V_TOPIC("clicks"), RD_KAFKA_V_PARTITION(2),
                            RD_KAFKA_V_VALUE(const_cast<char*>(garbage.data()), garbage.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_flush(raw->get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(l->append_and_wait(2, make_record(5, 1)).has_value());

  std::vector<log::corruption> bad;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (l->durable_end(2) < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  const auto got = read_all(*l, 2, 0, 2, &bad);
  REQUIRE(got.size() == 2);
  CHECK(got[0].first == 0);
  CHECK(got[1].first == 2);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].partition == 2);
  CHECK(bad[0].position == 1);
  CHECK(bad[0].bytes_skipped == garbage.size());
}
