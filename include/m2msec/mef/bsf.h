// m2msec/mef/bsf.h: the MEF as a GBA Bootstrapping Server Function (BSF):
// Ub (3GPP TS 24.109 clause 4, TS 33.220 4.5.2) for the GBA-based
// Security Bootstrap Framework of TS-0003 8.3.2.3, where "the M2M
// Enrolment Function includes the functionality of a GBA Bootstrap Server
// Function".
//
//   device (UE)                              MEF (BSF)
//   GET /  Authorization: Digest username=IMPI, nonce="", response=""
//                                            401  WWW-Authenticate: Digest
//                                                 nonce=base64(RAND||AUTN),
//                                                 algorithm=AKAv1-MD5, qop="auth-int"
//   GET /  Authorization: Digest ... response=MD5 digest with password RES
//                                            200  application/vnd.3gpp.bsf+xml
//                                                 <btid>, <lifetime>;
//                                                 Authentication-Info: rspauth
//
// Ks = CK || IK is kept (sealed) under B-TID = base64(RAND)@MEF-FQDN until
// its lifetime ends; it is the Enrolment Key Ke, and B-TID its KeID.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/core/expiring_cache.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret.h"
#include "m2msec/crypto/milenage.h"
#include "m2msec/proto/digest.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/audit.h"
#include "m2msec/service/auth_context.h"
#include "m2msec/service/runtime.h"
#include "m2msec/store/store.h"

namespace m2msec::mef {

// AuthVector is one UMTS authentication vector (TS 33.102 6.3.2).
struct AuthVector {
  std::array<std::uint8_t, 16> rand{};
  std::array<std::uint8_t, crypto::kAutnSize> autn{};
  std::array<std::uint8_t, 8> xres{};
  SecretBytes ck;  // 16 bytes
  SecretBytes ik;  // 16 bytes
};

// SubscriberSource gives the BSF its authentication vectors and takes its
// resynchronisations: the BSF's side of Zh (TS 33.220 4.5.2, TS 29.109).
// m2msec embeds one over the MEF store (StoreSubscribers); an HSS client
// implementing this interface can replace it without touching the BSF.
// Both calls answer |done| exactly once, from any thread.
class SubscriberSource {
 public:
  virtual ~SubscriberSource() = default;
  // auth_vector makes a fresh vector for |impi|: Errc::not_found for an
  // unknown IMPI, Errc::store_error when the source fails.
  virtual void auth_vector(const std::string& impi, std::function<void(Result<AuthVector>)> done) = 0;
  // resync handles a synchronisation failure (TS 33.102 6.3.5): it checks
  // |auts| against the |rand| of the failed challenge and moves the
  // subscriber's SQN past SQN_MS. Errc::authentication_failed for an AUTS
  // that does not verify, Errc::not_found for an unknown IMPI.
  virtual void resync(const std::string& impi, const std::array<std::uint8_t, 16>& rand,
                      const std::array<std::uint8_t, crypto::kAutsSize>& auts, std::function<void(Status)> done) = 0;
};

// StoreSubscribers is the embedded subscriber source: K, OPc, SQN and AMF
// in the MEF store (m2msec mef subscriber ...), MILENAGE in the process.
// Each vector takes the next SQN with one durable write, so no SQN is
// ever issued twice, across restarts and replicas.
class StoreSubscribers : public SubscriberSource {
 public:
  StoreSubscribers(store::Store& store, service::WorkerPool& pool) : store_(store), pool_(pool) {}
  void auth_vector(const std::string& impi, std::function<void(Result<AuthVector>)> done) override;
  void resync(const std::string& impi, const std::array<std::uint8_t, 16>& rand,
              const std::array<std::uint8_t, crypto::kAutsSize>& auts, std::function<void(Status)> done) override;

 private:
  store::Store& store_;
  service::WorkerPool& pool_;
};

// BsfConfig is the [mef.bsf] table (docs/configuration.md).
struct BsfConfig {
  bool enabled = false;
  std::int64_t key_lifetime = 86400;               // Ks lifetime, seconds
  std::chrono::seconds challenge_lifetime{60};     // a nonce answers for this long
  std::size_t max_challenges = 100000;             // outstanding nonces held at most
};

// Bsf serves Ub. Pure: everything the handshake established is in the
// AuthRef; the session may be server-authenticated only (the device has
// no credential yet).
class Bsf {
 public:
  // |pool| runs the store work of a grant (sealing Ks, the durable write).
  Bsf(BsfConfig cfg, Fqdn fqdn, SubscriberSource& subscribers, store::Store& store, service::WorkerPool& pool);

  // handle answers one plain HTTP request (proto::Request::plain) with a
  // plain HTTP response:
  //   400  malformed or missing Authorization, wrong qop/algorithm/realm/uri
  //   401  a challenge: the initial request (the outstanding one again
  //        if the IMPI has one), a nonce no longer held (stale=TRUE), a
  //        nonce already used, or a verified AUTS
  //   403  unknown IMPI (for 10 s after a lookup found it unknown, without
  //        another), a wrong RES, a nonce issued to another IMPI (which
  //        uses it up too), an AUTS that does not verify
  //   500  the subscriber source or the store failed
  //   404  any target but "/"; 405 any method but GET
  //   200  the B-TID and its lifetime
  void handle(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);

  void set_audit(service::AuditLog* log) { audit_ = log; }

 private:
  struct Pending;
  void challenge(const proto::Request& req, const std::string& impi, bool stale, proto::Reply reply,
                 bool fresh = false);
  void verify(const proto::Request& req, const proto::digest::Credentials& creds, proto::Reply reply);
  void grant(const proto::Request& req, const proto::digest::Credentials& creds, std::shared_ptr<const Pending> p,
             proto::Reply reply);
  void record(const proto::digest::Credentials& creds, const std::shared_ptr<const Pending>& p,
              const proto::Reply& reply);

  BsfConfig cfg_;
  Fqdn fqdn_;
  SubscriberSource& subscribers_;
  store::Store& store_;
  service::WorkerPool& pool_;
  service::AuditLog* audit_ = nullptr;
  // Outstanding challenges by nonce, and the nonces already answered (a
  // replay is told apart from a nonce that merely expired).
  ExpiringCache<std::string, std::shared_ptr<const Pending>> pending_;
  ExpiringCache<std::string, bool> spent_;
  // An unauthenticated peer must not make the MEF write at will: a repeated
  // initial request for an IMPI with a challenge outstanding gets that
  // challenge again (one SQN, one durable write per challenge lifetime),
  // and an IMPI found unknown is refused for a while without a store
  // lookup.
  ExpiringCache<std::string, std::string> latest_;  // IMPI -> its outstanding nonce
  ExpiringCache<std::string, bool> unknown_{65536, std::chrono::seconds(10)};
};

}  // namespace m2msec::mef
