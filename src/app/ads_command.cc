#include <cstdio>
#include <fstream>
#include <iterator>

#include "app/commands.h"
#include "app/data_dir.h"
#include "ingest/ad_registry.h"
#include "state/ads_snapshot.h"

namespace adclick::app {

int import_ads(const config::config& cfg, const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "adclick: cannot read %s\n", file.c_str());
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string error_line;
  auto data = hold_data_dir(cfg.storage.data_dir, if_missing::create, "stop the server first", error_line);
  if (!data) {
    std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
    return 1;
  }
  ingest::ad_registry registry(*data->store, ingest::kDefaultAdCacheBytes,
                               state::ads_snapshot_path(cfg.storage.data_dir));
  if (auto e = registry.load()) {
    std::fprintf(stderr, "adclick: cannot load ads: %s\n", e.message().c_str());
    return 1;
  }
  const auto rep = ingest::import_ads_csv(registry, text);
  for (const auto& e : rep.errors) std::fprintf(stderr, "adclick: %s: %s\n", file.c_str(), e.c_str());
  std::printf("imported %zu ads, %zu bad rows\n", rep.imported, rep.errors.size());
  // The snapshot first: its write drops the changed marks, which the
  // compaction then removes for good.
  std::string why;
  if (auto e = registry.write_snapshot(why)) {
    std::fprintf(stderr, "adclick: the ads are imported but their snapshot could not be written: %s\n", why.c_str());
    return 1;
  }
  std::printf("wrote the ads snapshot of %zu ads\n", registry.size());
  if (auto e = data->store->compact_ads()) {
    std::fprintf(stderr, "adclick: the ads are imported but could not be compacted: %s\n", e.message().c_str());
    return 1;
  }
  return rep.errors.empty() ? 0 : 1;
}

}  // namespace adclick::app
