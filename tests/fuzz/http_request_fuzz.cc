// Whole HTTP requests as bytes: Beast's parser with the server's limits,
// then the router and every API handler (fuzz_app.h), pipelined requests one
// after the other, as a connection does.

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fuzz_app.h"

using namespace adclick;
namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto& app = fuzz::app();
  std::string_view rest = fuzz::as_text(data, size);
  for (int i = 0; i < 4 && !rest.empty(); ++i) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(8192);
    parser.body_limit(1 << 20);
    parser.eager(true);
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == bhttp::error::need_more) {
      // Signal the end of input: a message without framing may end here.
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;
    rest.remove_prefix(used);
    const auto& msg = parser.get();
    http::request r;
    r.method = msg.method_string();
    r.target = msg.target();
    r.body = msg.body();
    r.authorization = msg[bhttp::field::authorization];
    r.accept = msg[bhttp::field::accept];
    r.user_agent = msg[bhttp::field::user_agent];
    r.content_type = msg[bhttp::field::content_type];
    r.client_addr = {127, 0, 0, 1};
    r.client_family = 4;
    (void)app.call(r);
    if (used == 0) break;
  }
  return 0;
}
