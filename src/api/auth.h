#pragma once
// Who a request's bearer token belongs to: the admin, one advertiser, or no
// one.

#include <string>
#include <string_view>

#include "api/api.h"

namespace adclick::api {

struct caller {
  enum kind_t { none, admin, advertiser } kind = none;
  std::string advertiser_id;
};

// `authorization_header` as sent ("Bearer <token>"). Compares in constant
// time per candidate.
caller authenticate(const api_context& ctx, std::string_view authorization_header);

}  // namespace adclick::api
