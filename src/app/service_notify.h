#pragma once
// The service manager's readiness protocol (systemd's sd_notify, for a unit
// of Type=notify): READY=1 once the server answers /readyz with 200,
// RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 when it stops.
// Without NOTIFY_SOCKET in the environment (not started that way) each call
// does nothing. Any thread.

#include <string_view>

namespace adclick::app {

void notify_ready(std::string_view status);
void notify_reloading();
void notify_stopping();

}  // namespace adclick::app
