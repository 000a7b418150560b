// m2msec/proto/http_server.h: oneM2M-over-HTTP on an established (D)TLS
// session, server side.
#pragma once

#include <functional>
#include <memory>

#include "m2msec/proto/http.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/session.h"

namespace m2msec::proto {

// Reply sends the response to one request. Call it exactly once, from any
// thread; it is cheap to copy.
using Reply = std::function<void(Response)>;

// RequestHandler is a service's logic: given a request and the session
// (its peer() is what the handshake authenticated; it can export keying
// material), answer through |reply| (at once, or later after a durable
// write). It must not block. The session outlives the reply.
using RequestHandler = std::function<void(const Request&, std::shared_ptr<tls::Session>, Reply)>;

// serve_http reads requests from |session| one at a time, hands each to
// |handler| and writes the response, until the peer closes, the idle
// timeout fires, or a request is malformed (answered 4000 bad request,
// then the session is closed). |on_close| (optional) runs once when the
// loop ends. |session| is kept alive by the loop.
void serve_http(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits = {},
                std::function<void()> on_close = {});

}  // namespace m2msec::proto
