#include <catch2/catch.hpp>

#include <string>

#include "base/base64.h"

using namespace adclick::base;

TEST_CASE("base64: standard, padded, canonical only", "[base]") {
  CHECK(decode_base64("") == std::string());
  CHECK(decode_base64("Zg==") == std::string("f"));
  CHECK(decode_base64("Zm8=") == std::string("fo"));
  CHECK(decode_base64("Zm9v") == std::string("foo"));
  CHECK(decode_base64("+/+/") == std::string("\xfb\xff\xbf"));
  for (const char* bad : {"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "Zm9v\n", " Zm9v", "Zm=v", "-_-_", "Zg==Zg=="}) {
    INFO(bad);
    CHECK_FALSE(decode_base64(bad).has_value());
  }
}

TEST_CASE("base64url: unpadded, exact length, canonical only", "[base]") {
  const std::string bytes("\xfb\xff\xbf\x00\x01", 5);
  const std::string text = encode_base64url(bytes);
  CHECK(text == "-_-_AAE");
  unsigned char out[5];
  REQUIRE(decode_base64url(text, out, 5));
  CHECK(std::string(reinterpret_cast<char*>(out), 5) == bytes);
  CHECK_FALSE(decode_base64url("-_-_AAF", out, 5));   // unused bits set
  CHECK_FALSE(decode_base64url("-_-_AA", out, 5));    // too short
  CHECK_FALSE(decode_base64url("-_-_AAE=", out, 5));  // padded
  CHECK_FALSE(decode_base64url("+/+/AAE", out, 5));   // standard alphabet
}
