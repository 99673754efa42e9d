#pragma once
// The Date header's value.

#include <string_view>

namespace adclick::http::detail {

// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", formatted once
// per second per thread; valid on the calling thread until its next call.
std::string_view http_date();

}  // namespace adclick::http::detail
