// `adclick kafka-mock`: librdkafka's mock cluster as a process, for tests
// and demos on one machine (see kafka/mock_cluster.h: records live in
// memory only; not a broker for production).

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "app/commands.h"
#include "kafka/mock_cluster.h"

namespace adclick::app {
namespace {

// One command line from stdin: "down N", "up N", "leader TOPIC PARTITION
// BROKER". Answers "ok" or "error: ..." on stdout.
std::string run_command(kafka::mock_cluster& mock, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  std::error_code ec;
  if (verb == "down" || verb == "up") {
    int broker = 0;
    if (!(in >> broker) || broker < 1 || broker > mock.brokers()) {
      return "error: " + verb + " needs a broker id from 1 to " + std::to_string(mock.brokers());
    }
    ec = verb == "down" ? mock.set_broker_down(broker) : mock.set_broker_up(broker);
  } else if (verb == "leader") {
    std::string topic;
    int partition = -1;
    int broker = 0;
    if (!(in >> topic >> partition >> broker) || broker < 1 || broker > mock.brokers()) {
      return "error: leader needs TOPIC PARTITION BROKER";
    }
    ec = mock.set_leader(topic, partition, broker);
  } else {
    return "error: unknown command (down N | up N | leader TOPIC PARTITION BROKER)";
  }
  return ec ? "error: " + ec.message() : "ok";
}

// Reads commands until stop is set (stdin at EOF: no more commands, the
// cluster keeps running).
void serve_commands(kafka::mock_cluster& mock, const std::atomic<bool>& stop) {
  std::string pending;
  while (!stop.load()) {
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    if (::poll(&fd, 1, 200) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::printf("%s\n", run_command(mock, line).c_str());
      std::fflush(stdout);
    }
  }
}

}  // namespace

int run_kafka_mock(const kafka_mock_request& request) {
  kafka_mock_request r = request;
  if (r.replication == 0) r.replication = std::min(3, r.brokers);
  if (r.brokers < 1 || r.brokers > 16 || r.partitions < 1 || r.partitions > 4096 || r.replication < 1 ||
      r.replication > r.brokers) {
    std::fprintf(stderr,
                 "adclick: kafka-mock: --brokers must be 1 to 16, --partitions 1 to 4096, --replication 1 to "
                 "--brokers\n");
    return 2;
  }
  // SIGTERM and SIGINT are taken by sigwait below; every thread started
  // from here on (librdkafka's) inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string error_line;
  auto mock = kafka::mock_cluster::start(r.brokers, error_line);
  if (!mock) {
    std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
    return 1;
  }
  for (const auto* topic : {&r.topic, &r.counts_topic}) {
    if (const auto ec = (*mock)->create_topic(*topic, r.partitions, r.replication)) {
      std::fprintf(stderr, "adclick: kafka-mock: cannot create topic %s: %s\n", topic->c_str(), ec.message().c_str());
      return 1;
    }
  }
  std::printf("bootstrap_servers = \"%s\"\n", (*mock)->bootstrap_servers().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "adclick kafka-mock: %d brokers (ids 1 to %d), topics \"%s\" and \"%s\" with %d partitions, "
               "replication %d; records are kept in memory only (a test and demo tool, not a broker). "
               "Commands on stdin: down N | up N | leader TOPIC PARTITION BROKER. SIGTERM or SIGINT stops it.\n",
               r.brokers, r.brokers, r.topic.c_str(), r.counts_topic.c_str(), r.partitions, r.replication);

  std::atomic<bool> stop{false};
  std::thread commands([&] { serve_commands(**mock, stop); });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  stop.store(true);
  commands.join();
  return 0;
}

}  // namespace adclick::app
