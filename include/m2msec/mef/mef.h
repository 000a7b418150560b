// m2msec/mef/mef.h: the M2M Enrolment Function (seed 002; TS-0003 8.3),
// which also plays the seeds' MTF (seed 004): it provisions root keys (Km)
// to the MAF key stores (MASes) and, through the enrolment exchange, to the
// field AEs and CSEs. One MEF serves several MAFs, each with its own Km.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/expiring_cache.h"
#include "m2msec/core/ids.h"
#include "m2msec/mef/bsf.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"
#include "m2msec/service/admin.h"
#include "m2msec/service/audit.h"
#include "m2msec/service/auth_context.h"
#include "m2msec/service/config.h"
#include "m2msec/service/listener.h"
#include "m2msec/service/purge.h"
#include "m2msec/service/role_store.h"
#include "m2msec/service/runtime.h"
#include "m2msec/store/store.h"
#include "m2msec/tls/server.h"

namespace m2msec::mef {

// MafEntry is a MAF the MEF knows: where enrolees are sent to register.
struct MafEntry {
  std::string fqdn;
  // address: where enrolees reach it, put into clientRegURI: "host:port"
  // (https://), "https://host:port" or "coaps://host:port".
  std::string address;
};

// MefConfig is the [mef] table (docs/configuration.md).
struct MefConfig {
  service::ListenerSettings listen;
  std::string sp_domain;                 // SP domain of CSE-ID certificates
  std::string data_dir;                  // holds mef.db and the KEK
  service::StoreSettings store;          // [mef.store]: SQLite (default) or PostgreSQL
  std::string kek_file;                  // default <data_dir>/kek.hex
  std::string audit_file;                // default <data_dir>/audit.jsonl (docs/audit.md)
  IdEncoding id_encoding = IdEncoding::base64;
  std::int64_t default_lifetime = 365 * 86400;  // enrolment lifetime when the enrolee has no expiry
  unsigned workers = 16;                 // blocking-work threads
  std::chrono::seconds purge_interval{300};  // expired enrolments deleted this often; 0: never
  std::vector<MafEntry> mafs;
  BsfConfig bsf;                         // [mef.bsf]: the GBA BSF (Ub), off by default
};

// load_mef_config reads [mef] from |file|. Fails with Errc::invalid_argument
// naming the key.
Result<MefConfig> load_mef_config(const service::ConfigFile& file);

// open_mef_store opens (creating on first use) <data_dir>/mef.db with the
// KEK in |kek_file|, which is created (random, mode 0600) if |create_kek|
// and it does not exist.
Result<std::unique_ptr<store::Store>> open_mef_store(const MefConfig& cfg, bool create_kek);

// MefService is the MEF's logic, independent of sockets.
class MefService {
 public:
  MefService(MefConfig cfg, store::Store& store, service::WorkerPool& pool);

  // psk_lookup resolves a KpmID to Kpm (MEF handshake, 8.3.5.2.2). Unknown,
  // removed or expired enrolees fail with Errc::unknown_psk_identity.
  void psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done);

  // handle serves the Mmef requests:
  //   CREATE   /mef  (sec:enr)                     enrolment exchange
  //   RETRIEVE /mef/fetchCredentials/<KeID>/<SUID> key retrieval by a MAF
  //            or an Enrolee B (8.3.2.1 "Use of Remotely Provisioned
  //            Credential")
  //   CREATE   /mef/credentialFetches (sec:fcb) several Km retrievals by
  //            a MAF in one request (docs/protocol.md "Batches of Km
  //            fetches")
  //   RETRIEVE /mef/revocations/<seq>          the revocation feed of a MAF
  //            or an Enrolee B (docs/protocol.md)
  //   GET /    (plain HTTP, no X-M2M-RI)        GBA bootstrap on Ub, when
  //            [mef.bsf] is enabled (bsf.h)
  // All are pure: everything the handshake established is in |ctx|.
  void handle(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);

  const MefConfig& config() const { return cfg_; }

  // set_audit makes the service record grants and refusals in |log|
  // (borrowed, outlives the service; null: no audit). Call before serving.
  void set_audit(service::AuditLog* log) {
    audit_ = log;
    if (bsf_) bsf_->set_audit(log);
  }

 private:
  using EnroleeRef = std::shared_ptr<const store::Enrolee>;
  void enrol(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  // enrol_as completes an enrolment for |enrolee| (found by the handshake
  // or by a store read) and answers once it is durable.
  void enrol_as(const service::AuthContext& ctx, const proto::Request& req, const proto::EnrolRequest& request,
                const store::Enrolee& enrolee, proto::Reply reply);
  void fetch(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void fetch_batch(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  // maf_refusal is the answer refusing |req| a Km, or nullopt if it may
  // ask: a certificate session from an infrastructure anchor whose FQDN
  // is X-M2M-Origin.
  std::optional<proto::Response> maf_refusal(const tls::PeerIdentity& peer, const proto::Request& req) const;
  // km_credential answers one Km retrieval for KeID |ke_id| (already
  // checked with maf_refusal): a worker's job (store reads).
  proto::Response km_credential(const proto::Request& req, const KeyId& ke_id,
                                const std::optional<std::vector<std::uint8_t>>& ua, std::int64_t now);
  void revocations(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  proto::Response gba_credential(const proto::Request& req, const std::string& b_tid,
                                 const std::vector<std::uint8_t>& ua, store::TargetKind kind, std::int64_t now);

  MefConfig cfg_;
  Fqdn fqdn_;
  store::Store& store_;
  service::WorkerPool& pool_;
  service::AuditLog* audit_ = nullptr;
  std::unique_ptr<StoreSubscribers> subscribers_;  // when the BSF is enabled
  std::unique_ptr<Bsf> bsf_;
  // Enrolees read by recent PSK handshakes, by KpmID, so that the
  // enrolment request on that session needs no second read (and no
  // worker): bounded, short-lived, never used to answer a handshake.
  ExpiringCache<std::string, EnroleeRef> enrolees_{4096, std::chrono::seconds(2)};
};

// MefServer runs a MefService on its configured listeners.
class MefServer {
 public:
  static Result<std::unique_ptr<MefServer>> start(MefConfig cfg);
  ~MefServer();
  std::uint16_t tls_port() const { return listeners_->tls_port(); }
  std::uint16_t dtls_port() const { return listeners_->dtls_port(); }
  // The admin listener (service/admin.h): its port (0 if "off"), the
  // /metrics text, and drain(), which makes /readyz answer 503 "draining"
  // (on SIGTERM, for drain_time() before the process stops).
  std::uint16_t admin_port() const { return admin_ ? admin_->port() : 0; }
  std::string metrics() const;
  void drain() {
    if (admin_) admin_->set_draining();
  }
  std::chrono::milliseconds drain_time() const { return drain_; }
  store::Store& store() { return *store_; }

 private:
  MefServer() = default;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<service::AuditLog> audit_;
  std::unique_ptr<service::WorkerPool> pool_;
  std::unique_ptr<MefService> service_;
  std::unique_ptr<service::Listeners> listeners_;
  std::unique_ptr<service::ExpiryPurger> purger_;  // last: stops before the store closes
  std::chrono::milliseconds drain_{0};
  std::unique_ptr<service::AdminServer> admin_;  // last: stops first
};

}  // namespace m2msec::mef
