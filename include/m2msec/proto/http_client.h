// m2msec/proto/http_client.h: oneM2M-over-HTTP on a blocking (D)TLS client.
#pragma once

#include <chrono>
#include <string>

#include "m2msec/proto/channel.h"
#include "m2msec/proto/http.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/client.h"

namespace m2msec::proto {

// HttpClient sends requests over one TlsClient and waits for each answer.
// Not thread-safe; one request at a time.
class HttpClient : public Channel {
 public:
  // |host| goes into the Host header (use the server's FQDN).
  HttpClient(tls::TlsClient& tls, std::string host, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // call sends |req| (a fresh X-M2M-RI is set if empty) and returns the
  // response. Fails with Errc::timeout, Errc::connection_closed or
  // Errc::malformed_message; an error status from the peer is a successful
  // call: check rsp.rsc.
  Result<Response> call(Request req) override;

  // call_plain sends a plain HTTP request (|req.plain|, to |req.to|; the
  // Host header is this client's host) and returns the plain response
  // (Response::plain). The GBA Ub exchange uses it. Fails like call(), and
  // with Errc::malformed_message if the answer is a oneM2M primitive.
  Result<Response> call_plain(Request req) override;
  Binding binding() const override { return Binding::http; }

 private:
  tls::TlsClient& tls_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  Result<Response> exchange(const std::string& text);
  ResponseReader reader_;
  unsigned next_rqi_ = 1;
};


}  // namespace m2msec::proto
