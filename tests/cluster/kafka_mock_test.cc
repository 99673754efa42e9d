// `adclick kafka-mock`: a mock Kafka cluster in its own process, used by
// clients in other processes.

#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "kafka/kafka_log.h"
#include "testutil/config_file.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

namespace {

using namespace adclick;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("kafka-mock: prints its bootstrap servers first, serves other processes, takes commands, stops on SIGTERM",
          "[cluster]") {
  testutil::temp_dir dir;
  testutil::process mock({ADCLICK_BINARY, "kafka-mock", "--brokers", "3", "--partitions", "3"},
                         dir.path() + "/mock.out", true);
  REQUIRE(mock.wait_for_output("bootstrap_servers = \""));
  REQUIRE(mock.wait_for_output("\"\n", 10s));
  const std::string out = mock.output();
  std::smatch m;
  const std::regex first_line(R"re(^bootstrap_servers = "(127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2})"\n)re");
  REQUIRE(std::regex_search(out, m, first_line));
  const std::string servers = m[1];

  kafka::kafka_log_options o;
  o.client.bootstrap_servers = servers;
  o.partitions = 3;
  std::string error;
  auto l = kafka::kafka_log::open(o, error);
  INFO(error);
  REQUIRE(l.has_value());
  click_record r;
  r.event_time_ms = 1;
  r.ad_id = 42;
  r.expires_at_s = 100;
  r.impression_id = "i1";
  auto off = (*l)->append_and_wait(2, r);
  REQUIRE(off.has_value());
  CHECK(*off == 0);
  // The counts topic is there too.
  o.topic = "adclick-counts";
  CHECK(kafka::kafka_log::open(o, error).has_value());

  mock.write_stdin("down 3\nup 3\nleader clicks 1 2\nfly away\n");
  REQUIRE(mock.wait_for_output("ok\nok\nok\nerror: unknown command", 10s));

  (*l)->stop();
  mock.signal(SIGTERM);
  CHECK(mock.wait(10s) == 0);

  // Bad arguments: one line, exit 2.
  const auto [code, text] = testutil::run({ADCLICK_BINARY, "kafka-mock", "--brokers", "2", "--replication", "3"});
  CHECK(code == 2);
  CHECK(text.find("--replication 1 to --brokers") != std::string::npos);
}
