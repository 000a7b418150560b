// m2msec/link/link.h: server-to-server calls (MAF -> MEF, Entity B -> MAF
// and MEF): one client SSL_CTX per role, a small pool of persistent,
// mutually authenticated TLS 1.2 connections per peer, one deadline per
// call, a bound on calls per peer and a circuit breaker while a peer is
// down.
//
// A call is blocking: make it from a worker thread (service::WorkerPool),
// never from an I/O thread. Each pooled connection carries one request at
// a time (the servers answer in order, proto::serve_http), so a response is
// matched to its request by X-M2M-RI on that connection; a mismatch breaks
// the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::link {

// Peer is a server this role calls.
struct Peer {
  std::string host;        // name or address literal, resolved at each (re)connect
  std::uint16_t port = 0;
  std::string fqdn;        // SNI, Host header, and the dNSName its certificate must carry
};

// LinkOptions configures a Link. Durations and counts of zero are invalid.
struct LinkOptions {
  std::shared_ptr<const tls::CertificateKey> certificate;  // our client certificate (null: none sent)
  std::shared_ptr<const tls::TrustAnchors> trust;          // anchors for the peers' certificates; required
  std::size_t pool_size = 4;        // connections kept open per peer
  std::size_t max_in_flight = 64;   // calls per peer, running or waiting for a connection
  std::chrono::milliseconds timeout{5000};    // one deadline per call: wait, connect, handshake, write, read
  // max_idle: a pooled connection unused for this long is closed rather than
  // reused. Keep it below the peers' idle_timeout_ms (60 s by default).
  std::chrono::milliseconds max_idle{30000};
  // The breaker opens after |breaker_failures| consecutive failed
  // connection attempts to a peer; while open (|breaker_open|) calls to it
  // fail at once. Then one attempt is let through: success closes the
  // breaker, failure opens it again.
  unsigned breaker_failures = 3;
  std::chrono::milliseconds breaker_open{2000};
  // require_extended_master_secret: see tls::ClientOptions.
  bool require_extended_master_secret = true;
};

// LinkStats counts what a Link did, over all peers.
struct LinkStats {
  std::uint64_t calls = 0;
  std::uint64_t handshakes = 0;       // connections opened
  std::uint64_t reused = 0;           // calls served on a pooled connection
  std::uint64_t retries = 0;          // idempotent calls retried on a fresh connection
  std::uint64_t broken = 0;           // connections dropped after a failure or a mismatch
  std::uint64_t breaker_rejects = 0;  // calls refused while a breaker was open
  std::uint64_t busy_rejects = 0;     // calls refused over max_in_flight
};

// PeerState is one peer's pool as it is now (for metrics).
struct PeerState {
  std::string fqdn;
  std::string host;
  std::uint16_t port = 0;
  std::size_t open = 0;       // connections open or being opened
  std::size_t idle = 0;       // of which pooled, unused
  std::size_t in_flight = 0;  // calls admitted
  bool breaker_open = false;  // calls fail at once
};

// Link holds the client context and the connection pools. Thread-safe.
// Not copyable or movable; the destructor closes every pooled connection
// (no call may be running then).
class Link {
 public:
  // create validates |options| and builds the one client SSL_CTX. Fails
  // with Errc::invalid_argument (no trust anchors, a zero count or
  // duration) or Errc::invalid_credentials.
  static Result<std::unique_ptr<Link>> create(LinkOptions options);

  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // call sends |req| to |peer| and returns its response; a fresh X-M2M-RI
  // is set if |req.rqi| is empty. An error status from the peer is a
  // successful call: check rsp.rsc (proto::expect_success).
  //
  // Transport failures: Errc::connect_failed (cannot connect, the peer's
  // breaker is open, or max_in_flight calls are already on it),
  // Errc::timeout (the call's deadline passed at any step),
  // Errc::tls_handshake_failed / certificate_rejected / peer_name_mismatch
  // (the peer is not who it should be), Errc::connection_closed,
  // Errc::malformed_message (a bad response, or one whose X-M2M-RI is not
  // the request's). A pooled connection that fails before any response
  // byte arrives is replaced and an idempotent request (RETRIEVE, DELETE)
  // is sent once more on a fresh connection, within the same deadline.
  Result<proto::Response> call(const Peer& peer, proto::Request req);

  // call with an explicit deadline for this call instead of options.timeout.
  // |repeatable| says the caller knows this request has the same effect if
  // sent twice (e.g. handing over the same key under the same identifier),
  // so it is retried like RETRIEVE and DELETE whatever its operation.
  Result<proto::Response> call(const Peer& peer, proto::Request req, std::chrono::milliseconds timeout,
                               bool repeatable = false);

  // close_idle closes every pooled connection that is not in use.
  void close_idle();

  LinkStats stats() const;
  // peers returns the state of every peer called so far.
  std::vector<PeerState> peers() const;
  const LinkOptions& options() const;

 private:
  struct Impl;
  explicit Link(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// make_options builds a role's LinkOptions: the certificate (with its key)
// it presents when it calls another server, the anchors it checks that
// server with, its pool size and call deadline; the rest keeps the
// defaults. Empty paths leave the field null. Fails with the loaders'
// errors (Errc::io_error, Errc::invalid_credentials, ...).
Result<LinkOptions> make_options(const std::string& certificate, const std::string& private_key,
                                 const std::string& trust_anchors, std::size_t pool_size,
                                 std::chrono::milliseconds timeout);

}  // namespace m2msec::link
