// m2msec/service/runtime.h: what every m2msec server shares: a pool for
// blocking work (durable writes, key fetches), the clock, listen addresses
// and the mapping between oneM2M entity IDs and certificate names.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/tls/identity.h"

namespace m2msec::service {

// now_unix returns the current time in unix seconds.
std::int64_t now_unix();

// WorkerPool runs blocking jobs (a group-committed write, a round trip to
// another server) off the (D)TLS I/O threads, so that one slow fsync never
// stalls a handshake and many writes can share one commit.
class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();  // joins after running queued jobs
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // post queues |job|; it runs on one of the pool's threads.
  void post(std::move_only_function<void()> job);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Endpoint is a parsed "host:port" ("[v6]:port" for IPv6).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

// parse_endpoint reads "host:port"; port 0 is allowed (pick a free port).
// Fails with Errc::invalid_argument.
Result<Endpoint> parse_endpoint(std::string_view text);

// cse_public_domain_name implements the "public domain name representation
// of a CSE-ID" that a CSE-ID certificate carries (TS-0003 8.1.2.1): for the
// SP-relative CSE-ID "/in-cse" in SP domain "sp.example.com" it is
// "in-cse.sp.example.com". Fails with Errc::invalid_identifier unless
// |cse_id| is an SP-relative CSE-ID whose name is a valid DNS label.
Result<std::string> cse_public_domain_name(std::string_view cse_id, std::string_view sp_domain);

// peer_entity_id returns the oneM2M ID a certificate peer authenticated
// as: its first SAN URI (an AE-ID), else the CSE-ID whose public domain
// name is a dNSName under |sp_domain| ("in-cse.sp.example.com" ->
// "/in-cse"). Fails with Errc::peer_name_mismatch if neither applies.
Result<std::string> peer_entity_id(const tls::PeerIdentity& peer, std::string_view sp_domain);

// peer_has_fqdn is true if a certificate peer carries |fqdn| as a dNSName
// (case-insensitive).
bool peer_has_fqdn(const tls::PeerIdentity& peer, std::string_view fqdn);

}  // namespace m2msec::service

namespace m2msec::service {

// parse_duration reads "<n>[s|m|h|d]" (seconds if no unit) into seconds,
// 1 second to 100 years. Fails with Errc::invalid_argument.
Result<std::int64_t> parse_duration(std::string_view text);

}  // namespace m2msec::service
