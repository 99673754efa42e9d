#pragma once
// Internal to adclick_http: the OpenSSL context HTTPS connections use.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace adclick::http::detail {

// A server context from a PEM certificate chain and its private key: TLS 1.2
// and 1.3 only; for 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305 only (the
// 1.3 suites are all AEAD and forward-secret); no compression, no
// renegotiation. Null with `error_line` set when a file cannot be read, is
// not PEM, or the key does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_file,
                                                            const std::string& key_file,
                                                            std::string& error_line);

}  // namespace adclick::http::detail
