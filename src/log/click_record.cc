#include <arpa/inet.h>

#include "adclick/click_record.h"

namespace adclick {

std::string to_string(const client_address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == 4 && ::inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf) != nullptr) {
    return buf;
  }
  if (a.family == 6 && ::inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf) != nullptr) {
    return buf;
  }
  return "-";
}

}  // namespace adclick
