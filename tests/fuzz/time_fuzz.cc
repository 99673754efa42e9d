// Times and durations as the API and the config take them: durations,
// sizes, RFC 3339 / Unix-seconds times, granularities and listen
// endpoints. Whatever parses must print back to text that parses to the
// same value.

#include <chrono>
#include <string>

#include "base/duration.h"
#include "base/rfc3339.h"
#include "base/size.h"
#include "config/endpoint.h"
#include "fuzz_support.h"
#include "query/query_service.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  if (auto d = base::parse_duration(text)) {
    fuzz::require(d->count() >= 0, "durations are not negative");
    auto again = base::parse_duration(base::format_duration(*d));
    fuzz::require(again && *again == *d, "format_duration round trip");
  }
  if (auto s = base::parse_size(text)) {
    auto again = base::parse_size(base::format_size(*s));
    fuzz::require(again && *again == *s, "format_size round trip");
  }
  if (auto t = base::parse_time(text)) {
    if (*t >= 0 && *t < 253'402'300'800) {  // years 1970..9999
      const std::string printed = base::format_time(*t);
      auto again = base::parse_time(printed);
      fuzz::require(again && *again == *t, "format_time round trip");
    }
  }
  if (auto g = query::parse_granularity(text)) {
    fuzz::require(query::to_string(*g) == text, "granularity names itself");
  }
  if (auto e = config::parse_endpoint(text)) {
    auto again = config::parse_endpoint(config::to_string(*e));
    fuzz::require(again && *again == *e, "endpoint round trip");
  }
  return 0;
}
