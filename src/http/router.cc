#include "http/router.h"

#include <algorithm>
#include <cassert>
#include <set>

namespace adclick::http {

void router::add(std::string_view method, std::string path, handler h) {
  assert(!path.empty() && path.front() == '/');
  exact_[std::move(path)].insert_or_assign(std::string(method), std::move(h));
}

void router::add_prefix(std::string_view method, std::string prefix, handler h) {
  assert(!prefix.empty() && prefix.front() == '/');
  auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                         [&](const prefix_route& r) { return r.prefix == prefix; });
  if (it == prefixes_.end()) {
    // Keep longest-first order so match() can stop at the first hit.
    auto pos = std::find_if(prefixes_.begin(), prefixes_.end(), [&](const prefix_route& r) {
      return r.prefix.size() < prefix.size();
    });
    it = prefixes_.insert(pos, prefix_route{std::move(prefix), {}});
  }
  it->methods.insert_or_assign(std::string(method), std::move(h));
}

route_match router::match(std::string_view method, std::string_view path) const {
  std::vector<const method_map*> candidates;  // most specific first
  if (auto it = exact_.find(path); it != exact_.end()) candidates.push_back(&it->second);
  for (const auto& p : prefixes_) {
    if (path.starts_with(p.prefix)) candidates.push_back(&p.methods);
  }
  for (const method_map* m : candidates) {
    if (auto it = m->find(method); it != m->end()) return route_match{&it->second, {}};
  }
  // Only the 405/404 path pays for building the Allow list.
  std::set<std::string_view> methods;
  for (const method_map* m : candidates) {
    for (const auto& [name, h] : *m) methods.insert(name);
  }
  route_match result;
  for (std::string_view name : methods) {
    if (!result.allow.empty()) result.allow += ", ";
    result.allow += name;
  }
  return result;
}

}  // namespace adclick::http
