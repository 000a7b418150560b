// m2msec/client/associate.h: the Entity A side of Security Association
// Establishment (seeds 001, 003; TS-0003 8.2): MAF-based, provisioned-key
// (Kpsa) and certificate-based, then one authenticated oneM2M request.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "m2msec/client/device_state.h"
#include "m2msec/core/error.h"
#include "m2msec/core/ids.h"
#include "m2msec/proto/channel.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/client.h"

namespace m2msec::client {

// Framework: maf, kpsa and cert as in 8.2.2; gba is the GBA-based SAEF
// (8.3.2.3 with Entity B as the NAF): Kpsa = Ks_NAF of a bootstrap made by
// m2msec enrol --gba, presented under its B-TID.
enum class Framework { maf, kpsa, cert, gba };

std::string_view framework_name(Framework f);
Result<Framework> parse_framework(std::string_view text);

struct AssociateOptions {
  Framework framework = Framework::maf;
  std::string state_dir;                // device state (maf, kpsa)
  // device, if set, is used instead of state_dir: the state and keys are
  // read from it, and a KmID assigned by MAF Client Registration is written
  // back to device->state (nothing is written to disk). Not owned; must
  // outlive the call. For programs that simulate many devices.
  DeviceCredentials* device = nullptr;
  // transport and binding apply to an address given as HOST:PORT; one
  // given as "coaps://HOST:PORT" (CoAP over DTLS) or "https://HOST:PORT"
  // (HTTP over TLS) says its own. No binding: HTTP over TLS, CoAP over DTLS.
  tls::Transport transport = tls::Transport::tls;
  std::optional<proto::Binding> binding;
  std::string maf_address;              // "" uses the state's
  std::string cse_address;              // Entity B
  std::string cse_id;                   // Entity B's SP-relative CSE-ID ("/in-cse")
  std::string cse_fqdn;                 // SNI; "" derives <cse>.<domain of the MEF>
  IdEncoding id_encoding = IdEncoding::base64;
  std::int64_t kc_lifetime = 0;         // requested Kc lifetime (s); 0 lets the MAF choose
  // Certificate framework:
  std::shared_ptr<const tls::CertificateKey> certificate;
  std::shared_ptr<const tls::TrustAnchors> trust;
  std::string entity_id;                // our CSE-ID/AE-ID for the cert framework
  proto::Request request;               // the request to send; To/From default to CSEBase/us
  std::chrono::milliseconds timeout{10000};
  // psk_context, if set, is a PSK client context (tls::ClientContext built
  // with a psk) used for the MAF and Entity B PSK handshakes instead of a
  // new SSL_CTX per connection: for a program that associates many
  // entities (a gateway, the demo fleet).
  std::shared_ptr<const tls::ClientContext> psk_context;
  // certificate_context, if set, is a client context built with |trust|
  // (tls::ClientContext) used for the certificate framework's handshake
  // with Entity B instead of a new SSL_CTX; |certificate| is still this
  // entity's own (one context serves every entity of a program).
  std::shared_ptr<const tls::ClientContext> certificate_context;
  // hold waits this long between getting the key and contacting Entity B
  // (to exercise key expiry).
  std::chrono::milliseconds hold{0};
  // repeat sends the request this many times (at least once) on the one
  // session with Entity B, |interval| apart: a device that stays
  // connected. A session Entity B closes in between (its key expired or
  // was revoked) fails the call with Errc::connection_closed or the read's
  // error, naming how many requests were served.
  int repeat = 1;
  std::chrono::milliseconds interval{0};
};

struct AssociateResult {
  Framework framework = Framework::maf;
  std::string key_id;         // KcID or KpsaID ("" for certificates)
  std::string entity_id;      // who we are to Entity B
  std::string km_id;          // KmID used with the MAF (maf)
  std::int64_t key_expiry = 0;
  proto::Response response;   // the last response
  int served = 0;             // requests answered on the session
  // Phase timings (ms) for reports.
  double maf_ms = 0, cse_ms = 0;
};

// associate performs the chosen framework and sends the request.
// MAF-based: MAF handshake (KmID or, before registration, KeID) -> MAF
// Client Registration if no KmID was assigned yet (saved to the state) ->
// MAF Key Registration (Kc, KcID from EXPORTER-oneM2M-Connection) ->
// (D)TLS-PSK with Entity B using KcID/Kc. Fails with transport errors or
// Errc::request_refused.
Result<AssociateResult> associate(AssociateOptions options);

}  // namespace m2msec::client
