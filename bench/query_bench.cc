// query_bench: the query service and the speed layer seen from outside, while
// the click path takes a steady load.
//
//   query_bench --adclick build/src/app/adclick --loadgen build/bench/loadgen
//               [--dir DIR] [--port 18123] [--rate 10000] [--seconds 10]
//
// 1. fills a fresh data dir with 30 days of per-minute counts for ad 1 (a hot
//    ad: also the most clicked under the load) and registers ads 1 and 2;
// 2. starts adclick on it and loadgen at --rate clicks/s (open loop, ads
//    1..1000, Zipf 1.0);
// 3. measures over keep-alive HTTP: the 24 h minute series of ad 1 (1,440
//    points) and its 30-day minute series (43,200 points), p50/p99;
// 4. freshness: a new click on ad 2, then the series polled every 5 ms until
//    it shows: click-to-visible p50/p99;
// 5. restart: SIGKILL adclick under the load, start it again, time to /readyz.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "ingest/ad_registry.h"
#include "ingest/signature.h"
#include "state/store.h"

using namespace adclick;
using clock_type = std::chrono::steady_clock;

namespace {

const std::string kAdmin = "bench-admin-token-0123456789";
const std::string kKeyB64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string kKeyRaw = "0123456789abcdef0123456789abcdef";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A keep-alive HTTP/1.1 client for GETs with Content-Length answers.
class client {
 public:
  explicit client(std::uint16_t port) : port_(port) {}
  ~client() { close_fd(); }
  // Returns the status (0 on failure) and the body.
  int get(const std::string& path, std::string& body, const std::string& headers = "") {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect_fd()) return 0;
      const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
      if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        close_fd();
        continue;
      }
      int status = read_response(body);
      if (status != 0) return status;
      close_fd();
    }
    return 0;
  }

 private:
  bool connect_fd() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close_fd();
      return false;
    }
    buf_.clear();
    return true;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int read_response(std::string& body) {
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return 0;
    }
    const int status = std::atoi(buf_.c_str() + 9);
    std::size_t len = 0;
    std::string head = buf_.substr(0, head_end);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto cl = head.find("content-length:");
    if (cl != std::string::npos) len = std::stoul(head.substr(cl + 15));
    while (buf_.size() < head_end + 4 + len) {
      if (!fill()) return 0;
    }
    body = buf_.substr(head_end + 4, len);
    buf_.erase(0, head_end + 4 + len);
    return status;
  }
  bool fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  std::uint16_t port_;
  int fd_ = -1;
  std::string buf_;
};

pid_t spawn(const std::vector<std::string>& argv, const std::string& out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

long long json_total(const std::string& body) {
  const auto p = body.find("\"total\":");
  return p == std::string::npos ? -1 : std::stoll(body.substr(p + 8));
}

bool wait_ready(std::uint16_t port, double seconds) {
  const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
  while (clock_type::now() < until) {
    client c(port);
    std::string body;
    if (c.get("/readyz", body) == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"query latency, freshness and restart time of adclick under click load"};
  std::string adclick_bin, loadgen_bin, dir = "./query_bench_data";
  std::uint16_t port = 18123;
  double rate = 10000, seconds = 10;
  app.add_option("--adclick", adclick_bin, "the adclick binary")->required();
  app.add_option("--loadgen", loadgen_bin, "the loadgen binary")->required();
  app.add_option("--dir", dir, "scratch directory (deleted and recreated)");
  app.add_option("--port", port, "port for adclick");
  app.add_option("--rate", rate, "clicks/s of background load");
  app.add_option("--seconds", seconds, "seconds per measurement");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/data");
  const std::string config = dir + "/adclick.toml";
  std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:" << port << "\"\n[storage]\ndata_dir = \"" << dir
                        << "/data\"\n[signing]\ncurrent_key = \"k1\"\nkeys = { k1 = \"" << kKeyB64
                        << "\" }\n[auth]\nadmin_token = \"" << kAdmin << "\"\n[logging]\nlevel = \"info\"\n";

  // 1. 30 days of minute counts for ad 1, written straight into the state.
  const std::int64_t now = unix_now();
  {
    std::string err;
    auto st = state::store::open(dir + "/data/state", err);
    if (!st) {
      fmt::print(stderr, "query_bench: {}\n", err);
      return 1;
    }
    ingest::ad_registry reg(**st);
    bool created = false;
    std::string why;
    (void)reg.put(1, "adv-1", "https://example.com/1", created, why);
    (void)reg.put(2, "adv-1", "https://example.com/2", created, why);
    const std::int64_t last_min = now / 60;
    for (std::int64_t d = 0; d < 30; ++d) {
      state::write_batch b;
      for (std::int64_t m = 0; m < 1440; ++m) {
        const std::int64_t minute = last_min - d * 1440 - m;
        b.add_count(1, minute, state::tally_kind::clicks, 500 + static_cast<std::uint64_t>(m % 97));
        if (m % 3 == 0) b.add_count(1, minute, state::tally_kind::duplicate, 7);
      }
      if ((*st)->write(b, false)) return 1;
    }
    // History this old has long been compacted in a running adclick (its
    // merge operands folded into values); the bench starts from that state.
    if ((*st)->compact_counts()) return 1;
  }
  fmt::print("query_bench: ad 1 prefilled with 30 days of minute counts; adclick on :{}, background "
             "load {:.0f} clicks/s (loadgen open loop, 1000 ads, Zipf 1.0)\n",
             port, rate);

  pid_t server = spawn({adclick_bin, "serve", "--config", config}, dir + "/server.log");
  if (!wait_ready(port, 30)) {
    fmt::print(stderr, "query_bench: adclick did not become ready (see {}/server.log)\n", dir);
    return 1;
  }
  // Register ads 1..1000 (ad 1 stays adv-1's), then the steady load.
  const std::string total_s = fmt::format("{}", seconds * 3 + 20);
  pid_t lg = spawn({loadgen_bin, "--port", std::to_string(port), "--register", "--admin-token", kAdmin,
                    "--rate", fmt::format("{}", rate), "--duration", total_s, "--warmup", "0"},
                   dir + "/loadgen.log");
  std::this_thread::sleep_for(std::chrono::seconds(3));

  const std::string auth = "Authorization: Bearer " + kAdmin + "\r\n";
  // 3. Query latency.
  for (const auto& [name, span] : {std::pair<const char*, std::int64_t>{"24 h (1,440 points)", 86400},
                                   {"30 d (43,200 points)", 30 * 86400}}) {
    client c(port);
    std::vector<double> ms;
    std::string body;
    const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
    while (clock_type::now() < until) {
      const std::int64_t to = unix_now() / 60 * 60 + 60;
      const auto t0 = clock_type::now();
      const int status = c.get(fmt::format("/api/v1/ads/1/aggregates?from={}&to={}", to - span, to), body, auth);
      const double d = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      if (status != 200) {
        fmt::print(stderr, "query_bench: query answered {}\n", status);
        return 1;
      }
      ms.push_back(d);
    }
    fmt::print("query {}: {} queries, p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms, body {} bytes\n", name,
               ms.size(), pct(ms, 0.5), pct(ms, 0.99), pct(ms, 1.0), body.size());
  }

  // 4. Freshness: click on ad 2, poll until counted.
  {
    ingest::signer signer({{"k1", kKeyRaw}}, "k1", 86400);
    client c(port), q(port);
    std::vector<double> ms;
    std::string body;
    const std::int64_t from = unix_now() - 3600;
    long long seen = 0;
    const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
    for (int i = 0; clock_type::now() < until; ++i) {
      const std::string imp = fmt::format("fresh-{}-{}", now, i);
      const auto t0 = clock_type::now();
      if (c.get(fmt::format("/click?adId=2&impressionId={}&signature={}", imp, signer.sign(2, imp, unix_now() + 600)),
                body) != 302) {
        fmt::print(stderr, "query_bench: click failed\n");
        return 1;
      }
      for (;;) {
        q.get(fmt::format("/api/v1/ads/2/aggregates?from={}&to={}", from, unix_now() + 120), body, auth);
        if (json_total(body) > seen) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      seen = json_total(body);
      ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    fmt::print("freshness (click to visible in the query, default 1 s flush): {} clicks, p50 {:.0f} ms, p99 "
               "{:.0f} ms\n",
               ms.size(), pct(ms, 0.5), pct(ms, 0.99));
  }

  // 5. Restart after SIGKILL under load.
  {
    ::kill(server, SIGKILL);
    ::waitpid(server, nullptr, 0);
    const auto t0 = clock_type::now();
    server = spawn({adclick_bin, "serve", "--config", config}, dir + "/server2.log");
    const bool ok = wait_ready(port, 60);
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    fmt::print("restart after SIGKILL at {:.0f} clicks/s: {} in {:.3f} s (process start to /readyz 200)\n", rate,
               ok ? "ready" : "NOT ready", s);
    std::ifstream log(dir + "/server2.log");
    for (std::string line; std::getline(log, line);) {
      if (line.find("recovered") != std::string::npos || line.find("replayed") != std::string::npos ||
          line.find("listening") != std::string::npos || line.find("ready") != std::string::npos ||
          line.find("ads:") != std::string::npos || line.find("state:") != std::string::npos) {
        fmt::print("  server: {}\n", line);
      }
    }
  }
  ::kill(lg, SIGTERM);
  ::waitpid(lg, nullptr, 0);
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
