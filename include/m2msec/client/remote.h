// m2msec/client/remote.h: one request to another server over a fresh
// (D)TLS session, as the MAF (to the MEF) and Entity B (to the MAF or the
// MEF) make them. Blocking: call from a worker thread, never an I/O thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/client.h"

namespace m2msec::client {

// RemotePeer is where and how to reach a server.
struct RemotePeer {
  std::string address;   // "host:port"
  std::string fqdn;      // SNI and the name its certificate must carry
  std::shared_ptr<const tls::CertificateKey> certificate;  // our client certificate
  std::shared_ptr<const tls::TrustAnchors> trust;          // anchors for its certificate
  std::chrono::milliseconds timeout{5000};
};

// load_link loads the certificate (with its key) and trust anchors a
// server presents and checks when it calls another server. Empty paths
// leave the field null. Fails with the loaders' errors.
Result<RemotePeer> load_link(const std::string& certificate, const std::string& private_key,
                             const std::string& trust_anchors);

// call_remote connects (certificate-based TLS), sends |req| and returns the
// response. Transport failures (Errc::connect_failed, Errc::timeout,
// Errc::tls_handshake_failed, ...) mean the peer is unreachable; an error
// RSC is returned as a response.
Result<proto::Response> call_remote(const RemotePeer& peer, proto::Request req);

}  // namespace m2msec::client
