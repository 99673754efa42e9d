#pragma once
// Maps (method, path) to a handler. No Beast or Asio types cross this header.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "http/response.h"

namespace adclick::http {

// Called on an I/O thread, once per request. It must not block: work that
// waits (disk, locks held long) goes elsewhere, and the responder is called
// from there. An exception that escapes it is logged and answered with a 500
// (unless the responder was already called).
using handler = std::function<void(const request&, responder)>;

// The outcome of router::match.
struct route_match {
  const handler* target = nullptr;  // the handler to call, or null
  // When `target` is null: the methods that some route serves for this path
  // ("GET, PUT", sorted), for a 405's Allow header; empty means 404.
  std::string allow;
};

// Filled by one thread before the server starts, then constant; match() may
// then be called from any number of threads.
class router {
 public:
  // Exact path match ("/click"). A later add() for the same method and path
  // replaces the earlier handler. `path` starts with '/'.
  void add(std::string_view method, std::string path, handler h);
  // Prefix match ("/api/v1/ads/" serves "/api/v1/ads/42/aggregates"). Same
  // replacement rule as add().
  void add_prefix(std::string_view method, std::string prefix, handler h);

  // The most specific route that serves `method`: the exact route first,
  // then prefixes, longest first. If none does but some route matches the
  // path for another method, `allow` lists those methods (405).
  [[nodiscard]] route_match match(std::string_view method, std::string_view path) const;

 private:
  // The handlers registered for one path or prefix, by method.
  using method_map = std::map<std::string, handler, std::less<>>;
  struct prefix_route {
    std::string prefix;
    method_map methods;
  };

  std::map<std::string, method_map, std::less<>> exact_;
  std::vector<prefix_route> prefixes_;  // longest prefix first
};

}  // namespace adclick::http
