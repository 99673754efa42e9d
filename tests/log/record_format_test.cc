#include <catch2/catch.hpp>

#include "base/bytes.h"
#include "base/checksum.h"
#include "log/log_test_util.h"
#include "log/record_format.h"

using namespace adclick;
using namespace adclick::log;

TEST_CASE("a click frame round-trips every field", "[log]") {
  for (std::uint64_t i : {0, 1, 2, 39, 1000}) {
    const click_record r = test::make_click(i);
    std::string buf;
    REQUIRE(format::append_click_frame(buf, r));
    format::seal_frame(buf.data(), 12345 + i);
    std::size_t size = 0;
    REQUIRE(format::check_frame(buf.data(), buf.size(), size) == format::frame_check::ok);
    REQUIRE(size == buf.size());
    CHECK(base::get_u64(buf.data() + format::kFrameOffsetPos) == 12345 + i);
    click_view v;
    REQUIRE(format::decode_click(std::string_view(buf).substr(format::kFrameHeaderSize), v));
    CHECK(v.to_record() == r);
  }
}

TEST_CASE("limits of the click encoding", "[log]") {
  std::string buf;
  click_record r = test::make_click(1);
  SECTION("largest fields fit") {
    r.key_id = std::string(kMaxKeyIdLength, 'k');
    r.impression_id = std::string(kMaxImpressionIdLength, 'i');
    r.user_agent = std::string(kMaxUserAgentLength, 'u');
    REQUIRE(format::append_click_frame(buf, r));
    CHECK(buf.size() == format::kMaxFrameSize);
  }
  SECTION("too long or empty fields are refused") {
    click_record a = r, b = r, c = r, d = r, e = r;
    a.key_id = std::string(kMaxKeyIdLength + 1, 'k');
    b.impression_id = std::string(kMaxImpressionIdLength + 1, 'i');
    c.impression_id.clear();
    d.user_agent = std::string(kMaxUserAgentLength + 1, 'u');
    e.client.family = 5;
    for (const auto& bad : {a, b, c, d, e}) {
      CHECK_FALSE(format::append_click_frame(buf, bad));
      CHECK(buf.empty());
    }
  }
}

TEST_CASE("every flipped bit of a frame is detected", "[log]") {
  std::string buf;
  REQUIRE(format::append_click_frame(buf, test::make_click(7)));
  format::seal_frame(buf.data(), 99);
  for (std::size_t byte = 0; byte < buf.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = buf;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      std::size_t size = 0;
      INFO("byte " << byte << " bit " << bit);
      CHECK(format::check_frame(damaged.data(), damaged.size(), size) != format::frame_check::ok);
    }
  }
}

TEST_CASE("malformed payloads are refused by the decoder", "[log]") {
  std::string buf;
  REQUIRE(format::append_click_frame(buf, test::make_click(3)));
  const std::string payload = buf.substr(format::kFrameHeaderSize);
  click_view v;
  SECTION("truncated at every length") {
    for (std::size_t n = 0; n < payload.size(); ++n) {
      CHECK_FALSE(format::decode_click(std::string_view(payload).substr(0, n), v));
    }
  }
  SECTION("trailing bytes") { CHECK_FALSE(format::decode_click(payload + "x", v)); }
  SECTION("unknown version") {
    std::string p = payload;
    p[0] = 2;
    CHECK_FALSE(format::decode_click(p, v));
  }
}

TEST_CASE("segment header round trip and damage", "[log]") {
  char h[format::kSegmentHeaderSize];
  format::encode_segment_header(h, 7, 123456789);
  std::uint32_t p = 0;
  std::uint64_t base = 0;
  REQUIRE(format::decode_segment_header(h, p, base));
  CHECK(p == 7);
  CHECK(base == 123456789);
  h[17] ^= 1;
  CHECK_FALSE(format::decode_segment_header(h, p, base));
  CHECK(format::segment_file_name(42) == "00000000000000000042.seg");
}

TEST_CASE("a segment header with its reserved field set is refused even with a matching checksum", "[log]") {
  // Found by the log_record fuzz target: a header whose reserved bytes were
  // not zero, with a checksum made to match, decoded as if valid and would
  // not be written back the same.
  char h[format::kSegmentHeaderSize];
  format::encode_segment_header(h, 7, 123456789);
  base::put_u32(h + 24, 0x0001000bU);
  base::put_u32(h + 28, base::checksum32(h, 28));
  std::uint32_t p = 0;
  std::uint64_t base = 0;
  CHECK_FALSE(format::decode_segment_header(h, p, base));
}
