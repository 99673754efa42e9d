// The counts topic on the mock cluster: what the publisher sends, the
// materializer applies whole flushes only, the latest version per cell,
// once, and sums every source's partial into the counts rows.

#include "kafka/counts_topic.h"

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <thread>

#include "kafka/mock_cluster.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

namespace {

using namespace adclick;
using namespace std::chrono_literals;

constexpr std::int64_t kMinute = 29'000'000;

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

std::uint64_t clicks(state::store& st, std::uint64_t ad) {
  auto row = st.get_count_row(ad, state::row_hour(kMinute), state::tally_kind::clicks);
  REQUIRE(row.has_value());
  return row->value[state::row_slot(kMinute)];
}

std::uint64_t offset_of(state::store& st, std::uint32_t p) {
  auto o = st.get_offset(p);
  REQUIRE(o.has_value());
  return o->value_or(0);
}

agg::partial_count part(std::uint32_t p, std::uint64_t value, std::uint64_t version) {
  return {p, 7, kMinute, state::tally_kind::clicks, value, version};
}

}  // namespace

TEST_CASE("counts topic: whole flushes only, the latest version per cell, once, summed over partitions",
          "[kafka]") {
  std::string error;
  auto mock = kafka::mock_cluster::start(3, error);
  REQUIRE(mock.has_value());
  REQUIRE_FALSE((*mock)->create_topic("adclick-counts", 2, 3));
  testutil::temp_dir dir;
  auto st = state::store::open(dir.path() + "/state", error);
  INFO(error);
  REQUIRE(st.has_value());
  kafka::counts_options o;
  o.client.bootstrap_servers = (*mock)->bootstrap_servers();
  auto out = kafka::counts_publisher::open(o, error);
  REQUIRE(out.has_value());
  agg::partials_lock lock;
  auto in = kafka::counts_materializer::open(o, **st, lock, 4, error);
  REQUIRE(in.has_value());
  (*in)->start();

  // A publisher that crashed between its partials and its mark: nothing
  // applies.
  REQUIRE_FALSE((*out)->publish({part(0, 5, 10)}, {}));
  REQUIRE((*in)->wait_caught_up(10s));
  CHECK(clicks(**st, 7) == 0);
  CHECK(offset_of(**st, 0) == 0);

  // The next owner replays from an older offset: its flush to 6 applies;
  // the orphan (version 10) waits for a mark that covers it.
  REQUIRE_FALSE((*out)->publish({part(0, 3, 6)}, {{0, 6, 0}}));
  REQUIRE(eventually([&] { return offset_of(**st, 0) == 6; }));
  CHECK(clicks(**st, 7) == 3);
  REQUIRE_FALSE((*out)->publish({part(0, 5, 10)}, {{0, 10, 0}}));
  REQUIRE(eventually([&] { return offset_of(**st, 0) == 10; }));
  CHECK(clicks(**st, 7) == 5);

  // Another partition's partial adds to the same minute.
  REQUIRE_FALSE((*out)->publish({part(1, 2, 4)}, {{1, 4, 0}}));
  REQUIRE(eventually([&] { return clicks(**st, 7) == 7; }));

  // A replay below the applied offset changes nothing.
  REQUIRE_FALSE((*out)->publish({part(0, 4, 8)}, {{0, 8, 0}}));
  REQUIRE((*in)->wait_caught_up(10s));
  CHECK(clicks(**st, 7) == 7);
  CHECK(offset_of(**st, 0) == 10);
  CHECK((*in)->stats().flushes_replayed >= 1);

  // A damaged record is reported and not counted.
  auto raw = kafka::make_client(kafka::client_kind::producer, o.client, {}, nullptr, nullptr, error);
  REQUIRE(raw.has_value());
  std::string junk = "not a partial";
  REQUIRE(rd_kafka_producev(raw->get(), RD_KAFKA_V_TOPIC("adclick-counts"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY(junk.data(), junk.size()), RD_KAFKA_V_VALUE(junk.data(), junk.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_flush(raw->get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE((*in)->wait_caught_up(10s));
  CHECK((*in)->stats().records_corrupt == 1);
  CHECK(clicks(**st, 7) == 7);

  // A partition this node's shards hold is theirs to write: skipped.
  (*in)->set_owned({1});
  REQUIRE_FALSE((*out)->publish({part(1, 9, 20)}, {{1, 20, 0}}));
  REQUIRE((*in)->wait_caught_up(10s));
  CHECK(clicks(**st, 7) == 7);
  CHECK(offset_of(**st, 1) == 4);
  (*in)->set_owned({});

  // A restart reads on from the stored positions: the flushes applied
  // before are replays now, and the one skipped while owned (which no shard
  // wrote here, in this test) applies, once.
  CHECK((*in)->stats().flushes_applied == 3);
  (*in)->stop();
  in->reset();
  auto again = kafka::counts_materializer::open(o, **st, lock, 4, error);
  REQUIRE(again.has_value());
  (*again)->start();
  REQUIRE((*again)->wait_caught_up(10s));
  CHECK(offset_of(**st, 0) == 10);
  CHECK(offset_of(**st, 1) == 20);
  CHECK(clicks(**st, 7) == 14);
  CHECK((*again)->stats().flushes_applied == 1);
  REQUIRE_FALSE((*out)->publish({part(1, 10, 21)}, {{1, 21, 0}}));
  REQUIRE(eventually([&] { return offset_of(**st, 1) == 21; }));
  CHECK(clicks(**st, 7) == 15);
}
