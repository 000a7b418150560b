// m2msec/proto/coap_server.h: oneM2M over CoAP (TS-0008) on an
// established DTLS session, server side, and the choice of binding for a
// DTLS session.
#pragma once

#include <functional>
#include <memory>

#include "m2msec/proto/http.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/tls/session.h"

namespace m2msec::proto {

// serve_coap reads CoAP messages from |session| (one per datagram) and
// serves their requests one at a time through |handler|, until the peer
// closes or the idle timeout fires. Per RFC 7252 and RFC 7959:
//   - a confirmable request is answered piggybacked on its ACK; a
//     retransmission (same message ID, among the last 32) gets the same
//     answer again without reaching the handler; a non-confirmable one is
//     answered non-confirmable;
//   - an empty confirmable message (a CoAP ping) gets a Reset, and so does
//     a datagram that is not a well-formed CoAP message but has a header;
//   - a request payload may come in Block1 blocks (2.31 Continue each,
//     4.08 for a block out of order, 4.13 past limits.max_body);
//   - a response payload over 512 bytes goes out in Block2 blocks, kept
//     for the follow-up requests of that Request Identifier.
// A request the binding refuses (an unknown critical option, a payload
// that is not JSON, a missing oneM2M-RQI, ...) gets the CoAP code and
// oneM2M-RSC of coap::to_request's RequestError and a m2m:dbg payload; the
// session goes on. An exception thrown by |handler| is answered 5000.
void serve_coap(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits = {},
                std::function<void()> on_close = {}, const tls::ByteVector& initial = {});

// DtlsBinding is what a DTLS listener speaks: CoAP, HTTP (the legacy
// binding of m2msec before CoAP), or either, chosen per session by its
// first datagram (an HTTP request line, or else CoAP: a CoAP request never
// begins with an HTTP method and a space, since its second byte would be a
// response code).
enum class DtlsBinding { coap, http, automatic };

std::string_view dtls_binding_name(DtlsBinding b);
// parse_dtls_binding reads "coap", "http" or "auto".
Result<DtlsBinding> parse_dtls_binding(std::string_view text);

// looks_like_http is true if |bytes| begins with an HTTP method and a space.
bool looks_like_http(std::span<const std::uint8_t> bytes);

// serve_dtls serves |session| in |binding| (see serve_http, serve_coap).
void serve_dtls(std::shared_ptr<tls::Session> session, DtlsBinding binding, RequestHandler handler,
                HttpLimits limits = {}, std::function<void()> on_close = {});

}  // namespace m2msec::proto
