#include "http/message.h"

#include <algorithm>

#include <boost/beast/core/string.hpp>

namespace adclick::http {
namespace {

// RFC 7230 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

const char* header_problem(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) return "invalid name";
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return "CR, LF or NUL in the value";
  }
  // The server frames the message; a handler's framing header would corrupt it.
  if (boost::beast::iequals(name, "content-length") ||
      boost::beast::iequals(name, "transfer-encoding") ||
      boost::beast::iequals(name, "connection")) {
    return "the server sets this header";
  }
  return nullptr;
}

void split_target(request& r) {
  std::string_view t = r.target;
  if (!t.starts_with('/')) {
    // absolute-form (RFC 7230 5.3.2): scheme "://" authority [path] [? query]
    if (const auto scheme_end = t.find("://"); scheme_end != std::string_view::npos) {
      const auto rest = t.find_first_of("/?", scheme_end + 3);
      t = rest == std::string_view::npos ? std::string_view{} : t.substr(rest);
    }
  }
  const auto q = t.find('?');
  r.path = t.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
  if (r.path.empty()) r.path = "/";  // "http://host" and "http://host?x" ask for "/"
}

}  // namespace adclick::http
