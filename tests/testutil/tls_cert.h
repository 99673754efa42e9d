#pragma once
// Self-signed test certificates, made with the openssl command.

#include <string>

#include "testutil/process.h"

namespace adclick::testutil {

// Writes a self-signed P-256 certificate for 127.0.0.1 with common name
// `cn`, and its key; false (with openssl's output in `why`) on failure.
inline bool make_test_cert(const std::string& cert, const std::string& key, const std::string& cn,
                           std::string* why = nullptr) {
  const auto [rc, out] =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn, "-addext",
           "subjectAltName=IP:127.0.0.1"});
  if (why != nullptr) *why = out;
  return rc == 0;
}

}  // namespace adclick::testutil
