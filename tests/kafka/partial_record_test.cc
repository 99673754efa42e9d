// The counts topic's records: round trip, and every damaged byte refused.

#include "kafka/partial_record.h"

#include <catch2/catch.hpp>

using namespace adclick::kafka;

TEST_CASE("partial records: round trip, sources, and every flipped byte is refused", "[kafka]") {
  const partial p{partition_source(17), 42, -3, 4, 1'000'000'007, 555};
  CHECK(p.source == "p17");
  CHECK(node_source("node-1") == "n:node-1");
  std::string key;
  std::string value;
  REQUIRE(encode_partial(p, key, value));
  partial back;
  REQUIRE(decode_partial(key, value, back));
  CHECK(back == p);

  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string k = key;
    k[i] = static_cast<char>(k[i] ^ 0x01);
    CHECK_FALSE(decode_partial(k, value, back));
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string v = value;
    v[i] = static_cast<char>(v[i] ^ 0x01);
    CHECK_FALSE(decode_partial(key, v, back));
  }
  CHECK_FALSE(decode_partial(key.substr(0, key.size() - 1), value, back));
  CHECK_FALSE(decode_partial(key, value + "x", back));
  CHECK_FALSE(decode_partial("", "", back));

  partial bad = p;
  bad.source.clear();
  CHECK_FALSE(encode_partial(bad, key, value));
  bad.source.assign(kMaxSourceLength + 1, 'x');
  CHECK_FALSE(encode_partial(bad, key, value));
  bad.source.assign(kMaxSourceLength, 'x');
  CHECK(encode_partial(bad, key, value));
}
