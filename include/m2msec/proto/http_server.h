// m2msec/proto/http_server.h: oneM2M-over-HTTP on an established (D)TLS
// session, server side.
#pragma once

#include <functional>
#include <memory>

#include "m2msec/proto/http.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/session.h"

namespace m2msec::proto {

// Reply sends the response to one request. Call it once, from any thread;
// it is cheap to copy. A second call is ignored. If every copy is
// destroyed without a call (a handler lost the request, or a worker job
// threw), the peer gets 5000 internal server error.
using Reply = std::function<void(Response)>;

// RequestHandler is a service's logic for one request: answer through
// |reply| (at once, or later after a durable write). It must not block.
// It sees no session: whatever the handshake established is bound into
// the handler by the listener (service::AuthContext).
using RequestHandler = std::function<void(const Request&, Reply)>;

// serve_http reads requests from |session| one at a time, hands each to
// |handler| and writes the response, until the peer closes, the idle
// timeout fires, or a request is malformed (answered 4000 bad request,
// then the session is closed). An exception thrown by |handler| is caught,
// logged once and answered 5000; the session and the process go on.
// |on_close| (optional) runs once when the loop ends. |session| is kept
// alive by the loop. |initial| is bytes already read from the session
// (serve_dtls's first datagram), parsed before anything else.
void serve_http(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits = {},
                std::function<void()> on_close = {}, const tls::ByteVector& initial = {});

}  // namespace m2msec::proto
