#include "http/http_date.h"

#include <cstdio>
#include <ctime>

namespace adclick::http::detail {

// By hand: strftime's %a and %b follow the locale.
std::string_view http_date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_at = -1;
  thread_local char buf[64];
  thread_local std::size_t len = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    const int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                kDays[utc.tm_wday % 7], utc.tm_mday, kMonths[utc.tm_mon % 12],
                                utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    len = n > 0 ? static_cast<std::size_t>(n) : 0;
    cached_at = now;
  }
  return {buf, len};
}

}  // namespace adclick::http::detail
