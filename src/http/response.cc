#include "http/response.h"

namespace adclick::http {

std::string json_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

response json_error(int status, std::string_view code, std::string_view message) {
  response r;
  r.status = status;
  r.body = R"({"error":{"code":")" + json_escape(code) + R"(","message":")" +
           json_escape(message) + R"("}})";
  return r;
}

}  // namespace adclick::http
