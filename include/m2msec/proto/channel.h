// m2msec/proto/channel.h: the binding seam on the client side. A Channel
// carries request primitives over one established (D)TLS connection in a
// protocol binding: HTTP (TS-0009) or CoAP (TS-0008). Callers build
// primitives and never see the binding.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/client.h"
#include "m2msec/tls/profile.h"

namespace m2msec::proto {

enum class Binding { http, coap };

std::string_view binding_name(Binding b);
// parse_binding reads "http" or "coap"; Errc::invalid_argument otherwise.
Result<Binding> parse_binding(std::string_view text);

// default_binding is what a transport carries unless told otherwise: HTTP
// over TLS, CoAP over DTLS.
inline Binding default_binding(tls::Transport t) { return t == tls::Transport::dtls ? Binding::coap : Binding::http; }

// Channel sends requests and waits for each answer. Not thread-safe; one
// request at a time.
class Channel {
 public:
  virtual ~Channel() = default;
  // call sends |req| (a fresh Request Identifier is set if empty) and
  // returns the response. Fails with Errc::timeout,
  // Errc::connection_closed or Errc::malformed_message; an error status
  // from the peer is a successful call: check rsp.rsc.
  virtual Result<Response> call(Request req) = 0;
  // call_plain sends a plain HTTP request (GBA Ub); only the HTTP binding
  // has one (Errc::invalid_argument otherwise).
  virtual Result<Response> call_plain(Request req) = 0;
  virtual Binding binding() const = 0;
};

// open_channel returns a channel of |binding| over |conn| (borrowed: it
// must outlive the channel). |host| is the server's FQDN (the HTTP Host
// header; CoAP sends no Uri-Host, the SNI names the server).
std::unique_ptr<Channel> open_channel(Binding binding, tls::TlsClient& conn, std::string host,
                                      std::chrono::milliseconds timeout);

// expect_success turns a non-2xxx response into Errc::request_refused with
// the RSC and the peer's m2m:dbg text in the detail.
Status expect_success(const Response& rsp);

// ServiceAddress is where a device reaches a role: "HOST:PORT" (transport
// and binding from the caller's defaults), "coaps://HOST:PORT" (CoAP over
// DTLS) or "https://HOST:PORT" (HTTP over TLS). A path after the port is
// ignored (a MAF's clientRegURI carries one).
struct ServiceAddress {
  std::string host;
  std::uint16_t port = 0;
  std::optional<tls::Transport> transport;  // set by a scheme
  std::optional<Binding> binding;           // set by a scheme
  // transport_or / binding_or fill what the scheme left open: the
  // caller's transport |t|, the caller's |preferred| binding if any, else
  // the transport's default binding.
  tls::Transport transport_or(tls::Transport t) const { return transport.value_or(t); }
  Binding binding_or(tls::Transport t, std::optional<Binding> preferred = {}) const {
    return binding.value_or(preferred.value_or(default_binding(transport_or(t))));
  }
};

// parse_service_address fails with Errc::invalid_argument (an unknown
// scheme, a bad HOST:PORT, port 0).
Result<ServiceAddress> parse_service_address(std::string_view text);

// service_uri renders an address with its scheme: "coaps://h:p" for CoAP
// over DTLS, "https://h:p" for HTTP over TLS, plain "h:p" otherwise.
std::string service_uri(const std::string& host, std::uint16_t port, tls::Transport t, Binding b);

}  // namespace m2msec::proto
