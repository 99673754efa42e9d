// Kills a process that appends in sync mode with SIGKILL and checks that
// every append it saw acknowledged is in the log after recovery.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <random>
#include <semaphore>
#include <thread>

#include "log/log_test_util.h"
#include "log/segmented_log.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::log;

namespace {

struct ack {
  std::uint32_t partition;
  std::uint64_t offset;
  std::uint64_t id;
};

log_options crash_options(const std::string& dir, std::uint64_t preallocate) {
  log_options o;
  o.preallocate = preallocate;
  o.dir = dir;
  o.partitions = 4;
  o.segment_size = 256 * 1024;  // several rolls per round
  o.checkpoint_bytes = 256 * 1024;  // and journal switches with checkpoints
  o.mode = durability::sync;
  return o;
}

[[noreturn]] void run_child(const std::string& dir, std::uint64_t preallocate, int out_fd,
                           std::uint64_t first_id) {
  recovery_report rep;
  std::string err;
  auto opened = segmented_log::open(crash_options(dir, preallocate), rep, err);
  if (!opened) _exit(2);
  auto& log = **opened;
  log.start();
  std::counting_semaphore<1024> window(512);
  std::atomic<std::uint64_t> next_id{first_id};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        window.acquire();
        const std::uint64_t id = next_id++;
        const auto p = static_cast<partition_id>(id % 4);
        log.append(p, test::make_click(id), [&, p, id](std::error_code ec, offset_t off) {
          if (!ec) {
            const ack a{p, off, id};
            char buf[sizeof a];
            std::memcpy(buf, &a, sizeof a);
            if (::write(out_fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) _exit(3);
          }
          window.release();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

}  // namespace

TEST_CASE("SIGKILL during sync appends loses no acknowledged record", "[log][crash]") {
  testutil::temp_dir dir;
  // With and without zeros preallocated ahead of the data.
  const std::uint64_t preallocate = GENERATE(0u, 64u * 1024);
  INFO("preallocate " << preallocate);
  std::random_device rd;
  const unsigned seed = rd();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::map<std::pair<partition_id, offset_t>, std::uint64_t> acked;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      run_child(dir.path(), preallocate, fds[1], static_cast<std::uint64_t>(round) * 1'000'000'000);
    }
    ::close(fds[1]);
    // The kill comes at a random moment after the first acknowledgement (the
    // child's recovery takes a varying time before that).
    const auto kill_after = std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 300)(rng));
    auto kill_at = std::chrono::steady_clock::time_point::max();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::string bytes;
    char buf[64 * 1024];
    bool killed = false;
    for (;;) {
      if (kill_at == std::chrono::steady_clock::time_point::max() && !bytes.empty()) {
        kill_at = std::chrono::steady_clock::now() + kill_after;
      }
      if (!killed && (std::chrono::steady_clock::now() >= kill_at ||
                      std::chrono::steady_clock::now() >= give_up)) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
      pollfd pfd{fds[0], POLLIN, 0};
      ::poll(&pfd, 1, 5);
      if ((pfd.revents & (POLLIN | POLLHUP)) != 0) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n == 0) break;  // the child is gone and the pipe drained
        if (n > 0) bytes.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(bytes.size() % sizeof(ack) == 0);
    const std::size_t acks_this_round = bytes.size() / sizeof(ack);
    for (std::size_t k = 0; k < acks_this_round; ++k) {
      ack a;
      std::memcpy(&a, bytes.data() + k * sizeof a, sizeof a);
      acked[{a.partition, a.offset}] = a.id;
    }
    INFO("round " << round << ": " << acks_this_round << " acknowledged");
    CHECK(acks_this_round > 0);

    // Recover and check every acknowledged record, field by field.
    recovery_report rep;
    std::string err;
    auto opened = segmented_log::open(crash_options(dir.path(), preallocate), rep, err);
    INFO(err);
    REQUIRE(opened);
    auto& log = **opened;
    log.start();
    CHECK(rep.corruptions == 0);
    std::size_t missing = 0;
    std::size_t wrong = 0;
    for (partition_id p = 0; p < 4; ++p) {
      const auto recs = test::read_all(log, p);
      std::map<offset_t, const click_record*> by_offset;
      for (const auto& [o, r] : recs) by_offset[o] = &r;
      for (auto it = acked.lower_bound({p, 0}); it != acked.end() && it->first.first == p; ++it) {
        auto f = by_offset.find(it->first.second);
        if (f == by_offset.end()) {
          ++missing;
        } else if (!(*f->second == test::make_click(it->second))) {
          ++wrong;
        }
      }
      CHECK(recs.size() == log.durable_end(p));
    }
    CHECK(missing == 0);
    CHECK(wrong == 0);
    log.stop();
  }
}
