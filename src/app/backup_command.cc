// `adclick backup verify` and `adclick restore`.

#include <cstdio>
#include <string>

#include "app/backup.h"
#include "app/commands.h"

namespace adclick::app {

int verify_backup_command(const std::string& dir) {
  std::string line;
  const bool ok = verify_backup(dir, line);
  std::fprintf(ok ? stdout : stderr, "%s%s\n", ok ? "" : "adclick: ", line.c_str());
  return ok ? 0 : 1;
}

int restore_command(const config::config& cfg, const std::string& from) {
  if (cfg.log.backend != config::log_backend::embedded) {
    std::fprintf(stderr,
                 "adclick: restore fills a data dir with the embedded log; this config has "
                 "log.backend = \"%s\"\n",
                 std::string(config::to_string(cfg.log.backend)).c_str());
    return 1;
  }
  std::string line;
  const bool ok = restore_backup(from, cfg.storage.data_dir, line);
  std::fprintf(ok ? stdout : stderr, "%s%s\n", ok ? "" : "adclick: ", line.c_str());
  return ok ? 0 : 1;
}

}  // namespace adclick::app
