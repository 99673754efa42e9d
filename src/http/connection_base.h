#pragma once
// A connection as the responder, the stream handle and the server's
// connection list see it, whatever its stream (plain TCP or TLS).

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "http/response.h"

namespace adclick::http::detail {

class connection_base : public std::enable_shared_from_this<connection_base> {
 public:
  virtual ~connection_base() = default;
  // Closes the socket now; pending operations complete as aborted.
  virtual void close_now() = 0;
  // A request has been read (at least its header) and its response not yet
  // written: stop() lets it finish within the grace period.
  virtual bool in_flight() const = 0;
  // Any thread. Where the connection's handlers run.
  virtual const boost::asio::any_io_executor& executor() const = 0;
  // Any thread: queues `r` as the answer to the current request. False if
  // the server has finished stopping (the answer is dropped).
  virtual bool post_response(response r) = 0;
  // Any thread.
  virtual void count_handler_error() = 0;
  // On the connection's executor (posted by the stream's handle).
  virtual void stream_enqueue(std::string bytes) = 0;
  virtual void stream_close() = 0;
};

}  // namespace adclick::http::detail
