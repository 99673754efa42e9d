#pragma once
// The dashboard's static files, built into the binary from web/dashboard
// (cmake/embed_assets.cmake writes the definition at build time).

#include <string_view>
#include <vector>

namespace adclick::api {

struct web_asset {
  std::string_view path;  // relative to web/dashboard, e.g. "index.html"
  std::string_view content_type;
  std::string_view bytes;
};

const std::vector<web_asset>& web_assets();

}  // namespace adclick::api
