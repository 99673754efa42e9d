#pragma once
// `adclick serve`: runs the engine until SIGTERM or SIGINT; SIGHUP reloads
// the config (what may change is in config::reloadable_part).

#include <string>

#include "config/config.h"

namespace adclick::app {

// Returns the process exit code (2 for a config it cannot serve). The
// config has already been validated. `config_path` is where it came from
// and what SIGHUP reads again (empty: the embedded default).
int serve(const config::config& cfg, const std::string& config_path);

}  // namespace adclick::app
