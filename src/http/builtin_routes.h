#pragma once
// What the server answers itself, before the router: on a redirect-only
// listener, every request (a 308 to HTTPS, same host); elsewhere GET /healthz
// and GET /readyz.

#include "http/request.h"
#include "http/response.h"

namespace adclick::http::detail {

struct server_core;

// True when `req` was answered through `respond`.
bool answer_builtin(const server_core& core, const request& req, const responder& respond);

}  // namespace adclick::http::detail
