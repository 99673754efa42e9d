#include "app/service_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <string>

namespace adclick::app {
namespace {

void notify(const std::string& state) {
  // 0: no NOTIFY_SOCKET (not under a service manager); < 0: it could not be
  // told, which the manager notices itself (its start timeout).
  if (const int r = sd_notify(0, state.c_str()); r < 0) {
    spdlog::warn("serve: cannot notify the service manager ({}): error {}", state.substr(0, state.find('\n')), -r);
  }
}

}  // namespace

void notify_ready(std::string_view status) { notify("READY=1\nSTATUS=" + std::string(status)); }

void notify_reloading() { notify("RELOADING=1"); }

void notify_stopping() { notify("STOPPING=1"); }

}  // namespace adclick::app
