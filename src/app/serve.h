#pragma once
// `adclick serve`: runs the engine until SIGTERM or SIGINT.

#include "config/config.h"

namespace adclick::app {

// Returns the process exit code (2 for a config it cannot serve). The
// config has already been validated.
int serve(const config::config& cfg);

}  // namespace adclick::app
