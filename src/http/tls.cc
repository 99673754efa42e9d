#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

namespace adclick::http::detail {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error(const boost::system::error_code& ec) {
  // Asio's message for SSL errors is OpenSSL's reason string.
  return ec.message();
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const std::string& cert_file,
                                               const std::string& key_file,
                                               std::string& error_line) {
  if (cert_file.empty() || key_file.empty()) {
    error_line = "TLS needs both a certificate file and a key file";
    return nullptr;
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use | ssl::context::no_compression);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    ERR_clear_error();
    error_line = "TLS: the cipher list is not supported by this OpenSSL";
    return nullptr;
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    error_line = fmt::format("TLS: cannot load the certificate chain {}: {}", cert_file, openssl_error(ec));
    return nullptr;
  }
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    error_line = fmt::format("TLS: cannot load the private key {}: {}", key_file, openssl_error(ec));
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    error_line = fmt::format("TLS: the private key {} does not match the certificate {}", key_file,
                             cert_file);
    return nullptr;
  }
  return ctx;
}

}  // namespace adclick::http::detail
