#pragma once
// `adclick serve`: runs the engine until SIGTERM or SIGINT.

#include "config/config.h"

namespace adclick::app {

// Returns the process exit code. The config has already been validated.
int serve(const config::config& cfg);

}  // namespace adclick::app
