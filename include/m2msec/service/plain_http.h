// m2msec/service/plain_http.h: the oneM2M HTTP binding over plain TCP,
// without TLS, for the link between a security gateway and the CSE behind
// it (docs/cse.md "Gateway mode").
//
// Nothing on such a link is authenticated by the link itself: the gateway
// (Entity B in gateway mode) authenticated the device and writes its
// identity into X-M2M-Origin, and the CSE behind it trusts that. So a
// plain listener must only be reachable by the gateways (loopback or a
// private network), never by devices.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/proto/http.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/auth_context.h"

namespace m2msec::service {

struct PlainHttpOptions {
  proto::HttpLimits limits;                       // per request
  std::size_t max_connections = 256;              // more are closed at once
  std::chrono::milliseconds idle_timeout{60000};  // between requests, and to send one
};

// PlainHttpServer serves oneM2M requests over plain HTTP/1.1 on its own
// thread, one request at a time per connection (answered in order). Each
// request reaches |handler| with an AuthContext whose peer is
// unauthenticated (kind none, transport tls, address the peer's IP) and
// whose listener is "<role>/http". A malformed or oversized request is
// answered 400 and the connection closed; a handler that throws is
// answered 5000; nothing a peer sends stops the server.
class PlainHttpServer {
 public:
  // start binds |listen| ("IP:port"; port 0 picks a free one). Fails with
  // Errc::invalid_argument (not an IP literal) or Errc::io_error (bind).
  static Result<std::unique_ptr<PlainHttpServer>> start(const std::string& listen, std::string role,
                                                        ServiceHandler handler, PlainHttpOptions options = {});
  // The destructor stops the server and joins its thread. A handler's
  // reply that comes after it is undefined: stop() first, let the
  // handlers' work finish (e.g. join their worker pool), then destroy.
  ~PlainHttpServer();
  PlainHttpServer(const PlainHttpServer&) = delete;
  PlainHttpServer& operator=(const PlainHttpServer&) = delete;

  std::uint16_t port() const;
  // stop closes the listener and every connection; replies that come
  // after it are dropped. Idempotent; any thread.
  void stop();

  struct Impl;  // opaque

 private:
  explicit PlainHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// plain_http_call sends |req| to the oneM2M HTTP server at |endpoint|
// ("host:port"; the host an IP literal or a name to resolve) on a new TCP
// connection and returns its response, all within |timeout|. |host| goes
// into the Host header. A fresh X-M2M-RI is not invented: |req.rqi| must
// be set. Fails with Errc::connect_failed, Errc::timeout,
// Errc::connection_closed or Errc::malformed_message; an error status is
// a successful call.
Result<proto::Response> plain_http_call(const std::string& endpoint, const std::string& host, const proto::Request& req,
                                        std::chrono::milliseconds timeout, proto::HttpLimits limits = {});

}  // namespace m2msec::service
