// m2msec/service/runtime.h: what every m2msec server shares: a pool for
// blocking work (durable writes, key fetches), the clock, listen addresses
// and the mapping between oneM2M entity IDs and certificate names.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/error.h"
#include "m2msec/tls/identity.h"

namespace m2msec::service {

// now_unix, Endpoint, parse_endpoint and cse_public_domain_name live in
// core/endpoint.h (the device side uses them too); these names remain.
using ::m2msec::cse_public_domain_name;
using ::m2msec::Endpoint;
using ::m2msec::now_unix;
using ::m2msec::parse_endpoint;

// WorkerPool runs blocking jobs (a group-committed write, a round trip to
// another server) off the (D)TLS I/O threads, so that one slow fsync never
// stalls a handshake and many writes can share one commit.
class WorkerPool {
 public:
  // |name| names the threads (at most 15 characters are kept), for top -H,
  // perf and per-role CPU figures.
  explicit WorkerPool(unsigned threads, std::string name = "m2m-worker");
  ~WorkerPool();  // joins after running queued jobs
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // post queues |job|; it runs on one of the pool's threads.
  void post(std::move_only_function<void()> job);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// tune_allocator_for_serving sets glibc's malloc to keep freed memory
// instead of handing it back after every burst: a fixed trim threshold
// (32 MiB) and mmap threshold (4 MiB) instead of the dynamic ones. With
// the defaults, a thread arena whose top grows past 128 KiB is shrunk
// with madvise(MADV_DONTNEED) on the next free and faulted back in on the
// next allocation: the store's writer did that at every SQLite savepoint,
// and device clients at every SSL_free (docs/performance.md). A server
// process calls it first thing in main(), before any thread starts;
// libraries never do. Returns false if either setting was refused, as
// under AddressSanitizer, whose allocator replaces glibc's.
bool tune_allocator_for_serving();

// check_anchor_role is the one place of the per-role trust rule (TS-0003
// 8.1.2; issue 11 item 3): a certificate peer is only what its names say
// if its verified chain ended at an anchor of the set that vouches for
// that kind of entity: AnchorRole::infrastructure for the MEF, the MAF and
// Entity B, AnchorRole::device for enrolees and Entity A. Fails with
// Errc::certificate_rejected (the detail names both roles) for another
// role, no role, or a peer that presented no certificate.
Status check_anchor_role(const tls::PeerIdentity& peer, tls::AnchorRole required);

// peer_entity_id returns the oneM2M ID a certificate peer authenticated
// as (TS-0003 8.1.2, 10.1.1), in SP-relative form, if its chain ended at a
// |required| anchor (check_anchor_role):
//   AE-ID certificate: a SAN URI that is exactly an absolute AE-ID of this
//     SP, "//<sp_domain>/S<stem>" or "//<sp_domain>/<cse>/C<stem>"
//     -> "/S<stem>" or "/<cse>/C<stem>";
//   CSE-ID certificate: a dNSName that is the public domain name of a
//     CSE-ID, one label under |sp_domain| ("in-cse.sp.example.com" ->
//     "/in-cse").
// Any other name (a relative or foreign URI, a deeper or foreign dNSName)
// binds nothing. Fails like check_anchor_role, or with
// Errc::peer_name_mismatch if no name applies.
Result<std::string> peer_entity_id(const tls::PeerIdentity& peer, std::string_view sp_domain,
                                   tls::AnchorRole required);

// peer_has_fqdn is true if a certificate peer whose chain ended at a
// |required| anchor carries |fqdn| as a dNSName (case-insensitive).
bool peer_has_fqdn(const tls::PeerIdentity& peer, std::string_view fqdn, tls::AnchorRole required);

}  // namespace m2msec::service

namespace m2msec::service {

// parse_duration reads "<n>[s|m|h|d]" (seconds if no unit) into seconds,
// 1 second to 100 years. Fails with Errc::invalid_argument.
Result<std::int64_t> parse_duration(std::string_view text);

}  // namespace m2msec::service
