#include <catch2/catch.hpp>
#include <atomic>
#include <thread>

#include "ingest/signature.h"

using namespace adclick::ingest;

namespace {
// The DESIGN.md test vector: key "0123456789abcdef0123456789abcdef" (32 bytes),
// given in the config as standard base64 MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=.
const std::string kKey = "0123456789abcdef0123456789abcdef";
const std::string kVector = "v1.k1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k";
constexpr std::int64_t kExp = 1800000000;
constexpr std::int64_t kDay = 86400;
}  // namespace

TEST_CASE("the DESIGN.md test vector", "[ingest]") {
  CHECK("v1.k1.1800000000." + click_mac(kKey, 42, "imp-1", kExp) == kVector);
  signer s({{"k1", kKey}}, "k1", kDay);
  CHECK(s.sign(42, "imp-1", kExp) == kVector);
  CHECK(s.verify(42, "imp-1", kVector, kExp - 10) == signature_check::ok);
}

TEST_CASE("verification outcomes", "[ingest]") {
  signer s({{"k1", kKey}, {"k0", "another-key-of-16-bytes+"}}, "k1", kDay);
  const std::int64_t now = kExp - 3600;
  CHECK(s.verify(42, "imp-1", kVector, now) == signature_check::ok);
  SECTION("another ad, impression or expiry does not verify") {
    CHECK(s.verify(43, "imp-1", kVector, now) == signature_check::bad_mac);
    CHECK(s.verify(42, "imp-2", kVector, now) == signature_check::bad_mac);
    CHECK(s.verify(42, "imp-1", "v1.k1.1800000001.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k", now) ==
          signature_check::bad_mac);
  }
  SECTION("every changed MAC character is caught") {
    for (std::size_t i = kVector.size() - 43; i < kVector.size(); ++i) {
      std::string bad = kVector;
      bad[i] = bad[i] == 'A' ? 'B' : 'A';
      const auto r = s.verify(42, "imp-1", bad, now);
      CHECK((r == signature_check::bad_mac || r == signature_check::malformed));
    }
  }
  SECTION("expiry") {
    CHECK(s.verify(42, "imp-1", kVector, kExp) == signature_check::ok);
    CHECK(s.verify(42, "imp-1", kVector, kExp + 1) == signature_check::expired);
    CHECK(s.verify(42, "imp-1", kVector, kExp - kDay) == signature_check::ok);
    CHECK(s.verify(42, "imp-1", kVector, kExp - kDay - 1) == signature_check::too_far);
  }
  SECTION("unknown key id") {
    CHECK(s.verify(42, "imp-1", "v1.k9.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k", now) ==
          signature_check::unknown_key);
  }
  SECTION("malformed") {
    for (const char* bad : {"", "v1", "v2.k1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1..1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1.k1..Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1.k1.-5.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1.k1.01800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1.k1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9",
                            "v1.k1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k=",
                            "v1.k1.1800000000.Z+Vam5Myz6/NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k",
                            "v1.k\n1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsHP9k"}) {
      INFO(bad);
      CHECK(s.verify(42, "imp-1", bad, now) == signature_check::malformed);
    }
  }
}

TEST_CASE("a MAC outside the base64url alphabet is malformed whatever the key id", "[ingest]") {
  // Found by the signature fuzz target: parse_signature took any 43
  // characters as a MAC, so the same text was well-formed to the parser
  // and malformed to verify().
  signer s({{"k1", kKey}}, "k1", kDay);
  for (const char* bad : {"v1.k1.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsH)9k",
                          "v1.k9.1800000000.Z-Vam5Myz6_NbLL7pjM5B9cG9Rp9TUoXWq1OCpsH)9k"}) {
    INFO(bad);
    parsed_signature p;
    CHECK_FALSE(parse_signature(bad, p));
    CHECK(s.verify(42, "imp-1", bad, kExp - 10) == signature_check::malformed);
  }
}

TEST_CASE("key rotation: an old key still verifies, the current key signs", "[ingest]") {
  signer old_signer({{"k1", kKey}}, "k1", kDay);
  const std::string old_sig = old_signer.sign(7, "abc", kExp);
  signer rotated({{"k1", kKey}, {"k2", "a-brand-new-key-32-bytes-long!!!"}}, "k2", kDay);
  CHECK(rotated.verify(7, "abc", old_sig, kExp - 60) == signature_check::ok);
  const std::string new_sig = rotated.sign(7, "abc", kExp);
  CHECK(new_sig.rfind("v1.k2.", 0) == 0);
  CHECK(rotated.verify(7, "abc", new_sig, kExp - 60) == signature_check::ok);
  CHECK(old_signer.verify(7, "abc", new_sig, kExp - 60) == signature_check::unknown_key);
}

TEST_CASE("signing and verifying from many threads at once", "[ingest]") {
  signer s({{"k1", kKey}}, "k1", kDay);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string imp = "imp-" + std::to_string(t) + "-" + std::to_string(i);
        const auto sig = s.sign(static_cast<std::uint64_t>(i + 1), imp, kExp);
        if (s.verify(static_cast<std::uint64_t>(i + 1), imp, sig, kExp - 1) != signature_check::ok) ++bad;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(bad == 0);
}
