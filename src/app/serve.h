#pragma once
// `adclick serve`: builds the subsystems in order, runs until SIGTERM or
// SIGINT, and stops them in reverse order.

#include "config/config.h"

namespace adclick::app {

// Returns the process exit code. The config has already been validated.
int serve(const config::config& cfg);

}  // namespace adclick::app
