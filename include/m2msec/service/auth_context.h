// m2msec/service/auth_context.h: what a (D)TLS handshake established,
// computed once when it completes and handed to every request of the
// session.
//
// Handlers are pure: handle(AuthContext, Request) -> Response. They touch
// no socket and no tls::Session, so they can be driven by unit tests and
// fuzzers with constructed contexts, and no handler can export keying
// material from the wrong thread or after the session closed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "m2msec/core/secret.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/identity.h"

namespace m2msec::service {

// AuthContext is immutable once the session starts serving requests.
struct AuthContext {
  // peer is what the handshake authenticated: kind (psk, certificate or
  // none), the PSK identity or the certificate's names and trust anchor,
  // the SNI and the negotiated suite.
  tls::PeerIdentity peer;
  // key_id is the key identifier the peer presented (its PSK identity:
  // KpmID, KmID, KeID, KcID or KpsaID); "" for a certificate session.
  std::string key_id;
  // entity_id is the oneM2M entity the role bound the session to when it
  // started ("" if the role binds per request, or could not bind).
  std::string entity_id;
  // key_expires_at is the expiry (Unix seconds) of the key the session
  // was authenticated with, when the role learned it during the handshake
  // (the MAF: Km's), so requests need not look the key up again.
  std::optional<std::int64_t> key_expires_at;
  // exported is the RFC 5705 output of the role's exporter label
  // (48 bytes, clause 10.3.1), or empty if the role needs none.
  SecretBytes exported;
  // listener names where the session arrived, e.g. "mef/tls".
  std::string listener;
};

using AuthRef = std::shared_ptr<const AuthContext>;

// ServiceHandler is a role's request logic: answer |req| through |reply|,
// exactly once, at once or later from any thread. It must not block.
using ServiceHandler = std::function<void(const AuthRef&, const proto::Request&, proto::Reply)>;

}  // namespace m2msec::service
