// m2msec/client/enrolee.h: the Enrolee side of Remote Security
// Provisioning (seed 002; TS-0003 8.3.2.1, 8.3.2.2).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "m2msec/client/device_state.h"
#include "m2msec/core/error.h"
#include "m2msec/core/ids.h"
#include "m2msec/proto/channel.h"
#include "m2msec/tls/client.h"

namespace m2msec::client {

// EnrolOptions says how to reach the MEF and with which bootstrap
// credential: |psk| (KpmID/Kpm) or |certificate| + |trust|.
struct EnrolOptions {
  tls::Transport transport = tls::Transport::tls;
  // binding: unset is the transport's default (HTTP over TLS, CoAP over
  // DTLS).
  std::optional<proto::Binding> binding;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string mef_fqdn;                 // SNI, KeID domain, expected cert name
  std::optional<tls::ClientPsk> psk;
  std::shared_ptr<const tls::CertificateKey> certificate;
  std::shared_ptr<const tls::TrustAnchors> trust;
  std::string maf_fqdn;                 // IdMAF the enrolee asks for ("" lets the MEF choose)
  IdEncoding id_encoding = IdEncoding::base64;
  std::chrono::milliseconds timeout{10000};
  // context, if set, is a client context built once (tls::ClientContext,
  // with the same kind of credential: a psk, or trust and certificate)
  // and shared by many enrolments instead of a new SSL_CTX for each.
  std::shared_ptr<const tls::ClientContext> context;
};

// Enrolment is what an enrolment exchange yields.
struct Enrolment {
  DeviceState state;
  SecretBytes ke;
  SecretBytes km;    // for a MAF target: Km = KDF(Ke, MAF-ID) (10.3.2)
  SecretBytes kpsa;  // for an Enrolee-B target (10.3.3)
};

// enrol runs the MEF handshake, derives Ke/KeID from the exporter,
// performs the enrolment exchange and derives Km or Kpsa. Fails with the
// transport's errors, Errc::request_refused (the MEF's RSC and reason), or
// Errc::malformed_message. Checks that the MEF formed the same KeID.
Result<Enrolment> enrol(const EnrolOptions& options);

}  // namespace m2msec::client
