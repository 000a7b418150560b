// m2msec/proto/http_client.h: oneM2M-over-HTTP on a blocking (D)TLS client.
#pragma once

#include <chrono>
#include <string>

#include "m2msec/proto/http.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/client.h"

namespace m2msec::proto {

// HttpClient sends requests over one TlsClient and waits for each answer.
// Not thread-safe; one request at a time.
class HttpClient {
 public:
  // |host| goes into the Host header (use the server's FQDN).
  HttpClient(tls::TlsClient& tls, std::string host, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // call sends |req| (a fresh X-M2M-RI is set if empty) and returns the
  // response. Fails with Errc::timeout, Errc::connection_closed or
  // Errc::malformed_message; an error status from the peer is a successful
  // call: check rsp.rsc.
  Result<Response> call(Request req);

  // call_plain sends a plain HTTP request (|req.plain|, to |req.to|; the
  // Host header is this client's host) and returns the plain response
  // (Response::plain). The GBA Ub exchange uses it. Fails like call(), and
  // with Errc::malformed_message if the answer is a oneM2M primitive.
  Result<Response> call_plain(Request req);

 private:
  tls::TlsClient& tls_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  Result<Response> exchange(const std::string& text);
  ResponseReader reader_;
  unsigned next_rqi_ = 1;
};

// expect_success turns a non-2xxx response into Errc::request_refused with
// the RSC and the peer's m2m:dbg text in the detail.
Status expect_success(const Response& rsp);

}  // namespace m2msec::proto
