// Consumer-group membership on the mock cluster: the group shares the
// topic's partitions, a member that leaves hands its share to the others,
// and each share is revoked before it moves.

#include "kafka/group_member.h"

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "base/mutex.h"
#include "kafka/mock_cluster.h"

namespace {

using namespace adclick;
using namespace std::chrono_literals;

// What one member's listener saw, in order.
struct journal {
  base::mutex mu;
  std::vector<std::pair<char, std::vector<log::partition_id>>> events GUARDED_BY(mu);
  kafka::group_listener listener() {
    return {[this](const std::vector<log::partition_id>& ps) {
              base::mutex_lock lk(mu);
              events.emplace_back('+', ps);
            },
            [this](const std::vector<log::partition_id>& ps) {
              base::mutex_lock lk(mu);
              events.emplace_back('-', ps);
            }};
  }
  std::vector<std::pair<char, std::vector<log::partition_id>>> copy() {
    base::mutex_lock lk(mu);
    return events;
  }
};

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

}  // namespace

TEST_CASE("kafka group: members share the partitions, and a member that leaves hands its share over", "[kafka]") {
  std::string error;
  auto mock = kafka::mock_cluster::start(3, error);
  REQUIRE(mock.has_value());
  REQUIRE_FALSE((*mock)->create_topic("clicks", 4, 3));
  kafka::group_options o;
  o.client.bootstrap_servers = (*mock)->bootstrap_servers();
  o.group = "g";
  o.session_timeout = 3s;

  journal j1;
  auto m1 = kafka::group_member::join(o, j1.listener(), error);
  INFO(error);
  REQUIRE(m1.has_value());
  REQUIRE(eventually([&] { return (*m1)->assignment().size() == 4; }));

  journal j2;
  o.client.client_id = "second";
  auto m2 = kafka::group_member::join(o, j2.listener(), error);
  REQUIRE(m2.has_value());
  REQUIRE(eventually([&] { return (*m1)->assignment().size() == 2 && (*m2)->assignment().size() == 2; }));
  std::set<log::partition_id> all;
  for (auto p : (*m1)->assignment()) all.insert(p);
  for (auto p : (*m2)->assignment()) all.insert(p);
  CHECK(all == std::set<log::partition_id>{0, 1, 2, 3});

  // The first member gave up everything before taking its new share.
  const auto e1 = j1.copy();
  REQUIRE(e1.size() >= 3);
  CHECK(e1[0] == std::pair<char, std::vector<log::partition_id>>{'+', {0, 1, 2, 3}});
  CHECK(e1[1] == std::pair<char, std::vector<log::partition_id>>{'-', {0, 1, 2, 3}});
  CHECK(e1.back().first == '+');
  CHECK(e1.back().second == (*m1)->assignment());

  // Leaving revokes at once and the other member takes everything.
  const auto t0 = std::chrono::steady_clock::now();
  (*m1)->leave();
  CHECK((*m1)->assignment().empty());
  CHECK(j1.copy().back().first == '-');
  REQUIRE(eventually([&] { return (*m2)->assignment().size() == 4; }));
  INFO("takeover took " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() << " ms");
  CHECK(std::chrono::steady_clock::now() - t0 < 15s);
}
