#include "app/serve.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>

#include "app/engine.h"
#include "app/service_notify.h"

namespace adclick::app {
namespace {

spdlog::level::level_enum to_spdlog(config::log_level l) {
  switch (l) {
    case config::log_level::trace: return spdlog::level::trace;
    case config::log_level::debug: return spdlog::level::debug;
    case config::log_level::info: return spdlog::level::info;
    case config::log_level::warn: return spdlog::level::warn;
    case config::log_level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Logs the effective config, one line per table.
void log_effective_config(const config::config& cfg) {
  std::istringstream in(config::describe(cfg));
  std::string line, group;
  auto flush = [&] {
    if (!group.empty()) spdlog::info("config: {}", group);
    group.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') flush();
    group += group.empty() ? line : " " + line;
  }
  flush();
}

// Waits for SIGTERM or SIGINT and returns it; SIGHUP reloads the HTTPS
// certificate and key on the way.
int wait_for_stop(const sigset_t& signals, engine& e, const config::config& cfg) {
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return sig;
    if (!e.tls()) {
      spdlog::info("serve: SIGHUP received; nothing to reload (TLS is off)");
      continue;
    }
    notify_reloading();
    std::string reload_error;
    if (e.reload_tls(reload_error)) {
      spdlog::error("serve: SIGHUP: keeping the current certificate: {}", reload_error);
    } else {
      spdlog::info("serve: SIGHUP: certificate and key reloaded from {} and {}; new connections use them",
                   *cfg.server.tls_cert, *cfg.server.tls_key);
    }
    // Not ready yet (a Kafka node waiting for its brokers): ready_watch says so later.
    if (e.ready()) notify_ready("serving");
  }
}

}  // namespace

int serve(const config::config& cfg) {
  spdlog::set_level(to_spdlog(cfg.logging.level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  log_effective_config(cfg);
  if (config::uses_demo_secrets(cfg)) {
    spdlog::warn(
        "config: demo secrets in use (signing key, admin token or advertiser key from the "
        "shipped config/adclick.toml); replace them before exposing this server");
  }

  // Signals are handled by sigwait(): block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // HTTPS: reload the certificate and key
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  engine e(cfg);
  std::string error_line;
  if (!e.start(error_line)) {
    spdlog::error("serve: {}", error_line);
    return 1;  // the engine stops what it started
  }
  spdlog::info("serve: ready");
  // The service manager hears READY=1 once /readyz would answer 200 (with
  // Kafka: once the brokers answer and the first share is taken).
  std::jthread ready_watch([&e](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      if (e.ready()) {
        notify_ready("serving");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const int sig = wait_for_stop(signals, e, cfg);
  spdlog::info("serve: {} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  ready_watch.request_stop();
  ready_watch.join();
  notify_stopping();
  e.stop();
  spdlog::info("serve: stopped cleanly");
  return 0;
}

}  // namespace adclick::app
