#include "app/serve.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

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

// SIGHUP: reads the config again and applies what may change while running
// (config::reloadable_part); `running` becomes what is in effect. A config
// that fails validation, or a certificate that does not load, changes
// nothing. Each outcome is one log line.
void reload(const std::string& config_path, engine& e, config::config& running) {
  const std::string source = config_path.empty() ? "the embedded default" : config_path;
  std::string error_line;
  auto next = config_path.empty() ? config::parse_config(config::default_config_text(),
                                                         "(embedded default)", error_line)
                                  : config::load_config_file(config_path, error_line);
  if (!next) {
    spdlog::error("serve: SIGHUP: reload refused, keeping the running config: {}", error_line);
    return;
  }
  std::vector<std::string> restart_keys;
  config::config merged = config::reloadable_part(running, *next, restart_keys);
  if (!e.reload(merged, error_line)) {
    spdlog::error(
        "serve: SIGHUP: reload refused, keeping the current certificate and the running config: {}",
        error_line);
    return;
  }
  spdlog::set_level(to_spdlog(merged.logging.level));
  if (config::uses_demo_secrets(merged) && !config::uses_demo_secrets(running)) {
    spdlog::warn(
        "serve: SIGHUP: the reloaded config uses demo secrets; replace them before exposing this "
        "server");
  }
  running = std::move(merged);
  std::string line = fmt::format(
      "serve: SIGHUP: config reloaded from {}: signing keys ({}, current {}), admin token, {} "
      "advertiser "
      "key(s), log level {}",
      source, running.signing.keys.size(), running.signing.current_key,
      running.auth.advertiser_keys.size(), config::to_string(running.logging.level));
  if (e.tls()) {
    line += fmt::format("; certificate and key reloaded from {} and {}; new connections use them",
                        *running.server.tls_cert, *running.server.tls_key);
  }
  if (!restart_keys.empty()) {
    line += fmt::format("; changed but kept until a restart: {}", fmt::join(restart_keys, ", "));
  }
  spdlog::info("{}", line);
}

// Waits for SIGTERM or SIGINT and returns it; SIGHUP reloads the config on
// the way.
int wait_for_stop(const sigset_t& signals, engine& e, const std::string& config_path,
                  config::config& running) {
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return sig;
    notify_reloading();
    reload(config_path, e, running);
    // Not ready yet (a Kafka node waiting for its brokers): ready_watch says so later.
    if (e.ready()) notify_ready("serving");
  }
}

}  // namespace

int serve(const config::config& cfg, const std::string& config_path) {
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
  sigaddset(&signals, SIGHUP);  // reload the config
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
  config::config running = cfg;
  const int sig = wait_for_stop(signals, e, config_path, running);
  spdlog::info("serve: {} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  ready_watch.request_stop();
  ready_watch.join();
  notify_stopping();
  e.stop();
  spdlog::info("serve: stopped cleanly");
  return 0;
}

}  // namespace adclick::app
