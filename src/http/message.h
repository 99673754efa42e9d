#pragma once
// The parts of reading a request and checking a response that do not touch
// a socket: shared by the connection and the fuzz targets.

#include <string_view>

#include "http/request.h"

namespace adclick::http {

// Fills r.path and r.query from r.target (see request.h).
void split_target(request& r);

// Why a response header is unacceptable (a name that is not an RFC 7230
// token, CR/LF/NUL in the value, or a framing header the server sets
// itself), or null if it is fine.
const char* header_problem(std::string_view name, std::string_view value);

}  // namespace adclick::http
