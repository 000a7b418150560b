// m2msec/entityb/entityb.h: the Entity B acceptor, which a CSE (usually the
// IN-CSE) embeds or runs in front of itself (TS-0003 8.2; seeds 001, 003).
//
// The PSK identity a client presents selects the framework:
//   KcID   (…@<MAF-FQDN>)  MAF-based SAEF: Kc is retrieved from that MAF
//                          (8.8.2.8) and cached until the connection ends
//                          or Kc expires (8.2.2.3; seed 000);
//   KpsaID (…@<issuer>)    provisioned-key SAEF: pre-provisioned by the
//                          operator, or remotely provisioned by a MEF
//                          (10.3.3) and fetched from it;
//   none (certificates)    certificate-based SAEF.
// Each session is bound to Entity A's authenticated CSE-ID/AE-ID, and a
// request whose X-M2M-Origin differs is refused (7.2.1). The acceptor then
// hands each request, with that identity, to the next stage (Next): the
// CSE that decides access and holds resources (cse/cse.h), or the
// gateway that forwards to an upstream CSE.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/expiring_cache.h"
#include "m2msec/cse/cse.h"
#include "m2msec/link/feed.h"
#include "m2msec/link/link.h"
#include "m2msec/link/single_flight.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"
#include "m2msec/service/admin.h"
#include "m2msec/service/audit.h"
#include "m2msec/service/auth_context.h"
#include "m2msec/service/config.h"
#include "m2msec/service/listener.h"
#include "m2msec/service/periodic.h"
#include "m2msec/service/plain_http.h"
#include "m2msec/service/role_store.h"
#include "m2msec/service/runtime.h"

namespace m2msec::entityb {

struct PeerEntry {
  std::string fqdn;
  std::string address;
};

// KpsaEntry is an operator-provisioned Kpsa (8.2.2.1).
struct KpsaEntry {
  std::string kpsa_id;
  std::string key_file;   // hex, mode 0600
  std::string entity_id;  // Entity A's CSE-ID or AE-ID
};

// UpstreamSettings is [cse.upstream]: gateway mode (docs/cse.md).
struct UpstreamSettings {
  std::string address;  // host:port of the upstream CSE's plain HTTP binding
  std::string host;     // its Host header (default: the address's host)
  std::chrono::milliseconds timeout{5000};  // one forwarded request, connect to answer
};

// CseConfig is the [cse] table (docs/configuration.md).
struct CseConfig {
  service::ListenerSettings listen;  // fqdn: the CSE-ID's public domain name
  std::string sp_domain;
  std::string cse_id;                // SP-relative, e.g. "/in-cse"
  std::string csebase;               // CSEBase resource name, e.g. "in-name"
  IdEncoding id_encoding = IdEncoding::base64;  // KcID encoding of the MAFs
  unsigned workers = 16;
  std::vector<PeerEntry> mafs;
  std::vector<PeerEntry> mefs;
  std::vector<KpsaEntry> kpsa;
  std::string audit_file;            // "": no audit trail (docs/audit.md)
  std::string data_dir;              // the resource store and its KEK (mode 0700)
  std::string kek_file;              // default <data_dir>/kek.hex
  service::StoreSettings store;      // [cse.store]: SQLite in data_dir, or PostgreSQL
  std::size_t max_children = 10000;  // child resources per parent
  // gateway_listen: plain HTTP from the security gateways in front of this
  // CSE, whose X-M2M-Origin is trusted ("" off; docs/cse.md).
  std::string gateway_listen;
  // upstream: gateway mode, forwarding to this CSE instead of holding
  // resources (then no data_dir is needed).
  std::optional<UpstreamSettings> upstream;
  std::size_t link_pool_size = 4;         // connections kept open per MAF / MEF
  std::chrono::milliseconds link_timeout{5000};  // deadline of one key retrieval
  std::chrono::milliseconds revocation_poll{250};  // the MAFs' and MEFs' revocation feeds read this often
};

Result<CseConfig> load_cse_config(const service::ConfigFile& file);

// open_cse_store opens the CSE's resource store (<data_dir>/cse.db, or
// [cse.store]), creating the KEK if missing.
Result<std::unique_ptr<store::Store>> open_cse_store(const CseConfig& cfg);

// link_options is Entity B's link::LinkOptions: its listener certificate
// and anchors, the link_* settings and require_extended_master_secret.
// Fails with the loaders' errors.
Result<link::LinkOptions> link_options(const CseConfig& cfg);

// CachedKey is a connection key Entity B holds for one Entity A.
struct CachedKey {
  SecretBytes key;
  std::string entity_id;
  std::int64_t expires_at = 0;  // 0: no expiry (operator Kpsa)
  bool from_maf = false;        // a Kc: de-register it when the connection ends
  std::string maf_fqdn;
  std::string relative;         // RelativeKcID, for de-registration
  int sessions = 0;
  // ended: the last connection with this Kc has ended (seed 000: the key
  // expired with it). The key bytes are wiped and the entry stays as a
  // tombstone, refusing the KcID, until the MAF confirms the
  // de-registration (or the key's expiry passes), so that no handshake in
  // between can fetch it again.
  bool ended = false;
  std::int64_t held_since = 0;  // when Entity B got it (a revocation after that drops it)
  std::string mef_fqdn = {};    // a Kpsa fetched from a MEF: that MEF
};

// KeyStats counts what the acceptor did, for status and benchmarks.
struct KeyStats {
  std::uint64_t cache_hits = 0;
  std::uint64_t maf_fetches = 0;
  std::uint64_t mef_fetches = 0;
  std::uint64_t refusals = 0;
  std::uint64_t joined = 0;         // lookups that waited for a fetch already running
  std::uint64_t negative_hits = 0;  // refused from the negative cache, without a fetch
  std::uint64_t pushed = 0;         // Kc keys a MAF pushed at key registration
  std::uint64_t push_requests = 0;  // the requests that carried them (a batch carries several)
  std::uint64_t revoked = 0;        // keys dropped because their issuer revoked them
  std::uint64_t deregistered = 0;   // Kc keys de-registered at their MAF (or found gone there)
  std::uint64_t dereg_requests = 0; // the requests that carried them (a batch carries several)
};

// Next is the stage after the acceptor: it answers |req| of the bound
// originator |from| through |reply|, exactly once, and must not block.
using Next = std::function<void(const cse::Originator& from, const proto::Request& req, proto::Reply reply)>;

// upstream_cse is the Next stage of gateway mode: each request is
// forwarded on |pool| to the upstream CSE over plain HTTP with
// X-M2M-Origin set to |from|.id, and its answer relayed (5103 if the
// upstream cannot be reached or does not answer in time).
Next upstream_cse(UpstreamSettings upstream, service::WorkerPool& pool);

// trusted_gateway is the handler of the gateway_listen listener: the
// request's X-M2M-Origin, which a security gateway set, is taken as the
// authenticated originator (4000 if it is not a CSE-ID or AE-ID) and the
// request handed to |next|.
service::ServiceHandler trusted_gateway(Next next);

// local_cse is the Next stage of a CSE that holds the resources itself:
// |cse| (borrowed) handles each request on |pool| (its store blocks).
Next local_cse(cse::Cse& cse, service::WorkerPool& pool);

class EntityB {
 public:
  static constexpr std::size_t kMaxHeldKeys = 500000;

  // |link| (borrowed; null: keys are never fetched) carries the calls to
  // the MAFs and MEFs and must outlive the acceptor.
  EntityB(CseConfig cfg, service::WorkerPool& pool, link::Link* link, std::map<std::string, CachedKey> provisioned);

  // psk_lookup resolves a KcID or KpsaID: from the keys held, else by one
  // fetch per key identifier however many handshakes ask at once
  // (single flight). A key identifier its issuer refused is refused
  // without a fetch for the next 5 s (negative cache; transport failures
  // are not remembered).
  void psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done);
  // handle is pure: the session's binding is ctx->entity_id. It also
  // accepts MAF Key Push (CREATE /mafKeys) from a configured MAF's
  // certificate session: the pushed Kc is held (at most kMaxHeldKeys keys
  // in all) until a session with it ends or it expires.
  void handle(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void on_session_start(service::AuthContext& ctx);
  // set_next names the stage that receives each request of a bound
  // session (none: every such request is answered 5001). Call before
  // serving.
  void set_next(Next next) { next_ = std::move(next); }
  void on_session_end(const service::AuthContext& ctx);

  // bound_entity returns the CSE-ID/AE-ID an authenticated peer is bound to.
  Result<std::string> bound_entity(const tls::PeerIdentity& peer);
  KeyStats stats() const;

  // set_audit makes the acceptor record the keys it accepts and the
  // refusals of key pushes and fetches in |log| (borrowed, outlives the
  // acceptor; null: no audit). Call before serving.
  void set_audit(service::AuditLog* log) { audit_ = log; }

  // SessionCloser closes the serving sessions a predicate accepts and
  // returns how many (service::Listeners::close_sessions).
  using SessionCloser = std::function<std::size_t(const std::function<bool(const service::AuthContext&)>&)>;
  void set_session_closer(SessionCloser closer) { close_sessions_ = std::move(closer); }

  // follow_revocations makes sync_revocations read the feeds over
  // |feed_link| (borrowed, outlives the acceptor; a link of its own, so
  // that polls of a MAF that is down do not open the breaker key
  // retrievals go through). Call before serving.
  void follow_revocations(link::Link& feed_link);

  // sync_revocations reads the revocation feed of every configured MAF and
  // MEF (docs/protocol.md "Revocation feed") and drops what they revoked:
  // a Kc the operator revoked, every Kc of a MAF client revoked, a Kpsa
  // whose enrolment ended; the sessions using them are closed. Each feed
  // is read from its head at start (Entity B holds no key before). Run it
  // from one thread, every revocation_poll.
  void sync_revocations();

 private:
  // key_for_identity is the canonical key identifier behind a PSK
  // identity met over |transport|: a KcID of a configured MAF, a KpsaID,
  // or a B-TID of a configured MEF (GBA-based SAEF, 8.3.2.3), whose Kpsa
  // is the Ks_NAF of the transport ("<B-TID>|tls" or "<B-TID>|dtls");
  // "" for others.
  std::string key_for_identity(std::string_view identity, tls::Transport transport) const;
  // is_hosting_cse: |entity| is this CSE's own CSE-ID (SP-relative or
  // absolute).
  bool is_hosting_cse(std::string_view entity) const;
  // drop_keys removes the keys |match| accepts (under mu_), remembers
  // them as revoked, closes their sessions and returns how many went.
  std::size_t drop_keys(const std::function<bool(const std::string&, const CachedKey&)>& match,
                        std::string_view kind, std::string_view source);
  Status apply_maf_entries(const Fqdn& maf, const std::vector<proto::RevocationEntry>& entries);
  Status apply_mef_entries(const Fqdn& mef, const std::vector<proto::RevocationEntry>& entries);
  Result<SecretBytes> fetch_kc(const KeyId& kc_id, const PeerEntry& maf, std::int64_t now);
  // fetch_kpsa fetches the Kpsa of |kpsa_id| (a KpsaID, or a B-TID when
  // |gba| names the Ua session's transport: Zn) and holds it under |key|.
  Result<SecretBytes> fetch_kpsa(const KeyId& kpsa_id, const PeerEntry& mef, std::int64_t now, const std::string& key,
                                 std::optional<tls::Transport> gba);
  // fetch_once runs |fetch| for |key| unless a fetch of it is running, and
  // answers |done| with the shared result.
  void fetch_once(const std::string& key, std::function<Result<SecretBytes>()> fetch,
                  std::function<void(Result<SecretBytes>)> done);
  Result<proto::Response> call(const PeerEntry& peer, proto::Request req);
  void accept_push(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  proto::Rsc take_pushed_key(const proto::MafKeyPush& body, const Fqdn& maf, std::int64_t now, std::string& why);
  // key_target is the MAF Key Retrieval / De-Registration target of
  // |kc_id|, naming this process as holder.
  std::string key_target(const KeyId& kc_id) const;
  // deregister queues |kc_id| for de-registration at |maf| (8.8.2.10).
  // One request per MAF is in flight; the keys whose connections end
  // meanwhile go together in the next one (docs/protocol.md "MAF Key
  // De-Registration", batches), each alone if the MAF knows no batches.
  void deregister(KeyId kc_id, const PeerEntry& maf);
  void drain_deregistrations(const PeerEntry& maf);
  // deregister_each sends one DELETE per key; deregistered ends a key's
  // tombstone once the MAF no longer holds it (|gone|).
  void deregister_each(const std::vector<KeyId>& ids, const PeerEntry& maf);
  void deregistered(const KeyId& kc_id, bool gone);
  static bool gone_at_maf(proto::Rsc rsc);
  void count_dereg_request();

  CseConfig cfg_;
  service::WorkerPool& pool_;
  link::Link* link_;
  // holder_ names this process to the MAF when it takes a Kc and lets it
  // go (docs/protocol.md "Kc holders"): random per process, so that with
  // Entity B run as replicas a Kc goes when the last process holding it
  // lets it go.
  const std::string holder_;
  service::AuditLog* audit_ = nullptr;
  link::SingleFlight<std::string, SecretBytes> fetches_;
  link::NegativeCache<std::string> refused_{1024, std::chrono::seconds(5)};
  mutable std::mutex mu_;
  std::map<std::string, CachedKey> keys_;          // canonical key ID -> key (cache + provisioned)
  KeyStats stats_;
  std::int64_t started_ = 0;
  // Keys their issuer revoked: a fetch or push that raced with the
  // revocation must not bring one back (bounded; after a minute the
  // issuer's own refusal answers).
  ExpiringCache<std::string, bool> revoked_{65536, std::chrono::seconds(60)};
  std::vector<std::unique_ptr<link::FeedFollower>> feeds_;
  SessionCloser close_sessions_;
  Next next_;
  // A MAF's de-registration lane: keys waiting, and whether a request is
  // in flight.
  struct DeregLane {
    std::vector<KeyId> queue;
    bool busy = false;
    bool batches = true;  // false once the MAF answered a batch as unknown (4000, 4004, 4005)
  };
  std::mutex dereg_mu_;
  std::map<std::string, DeregLane> dereg_;  // MAF FQDN -> lane
};

class CseServer {
 public:
  static Result<std::unique_ptr<CseServer>> start(CseConfig cfg);
  ~CseServer();
  std::uint16_t tls_port() const { return listeners_->tls_port(); }
  std::uint16_t dtls_port() const { return listeners_->dtls_port(); }
  // gateway_port is the plain HTTP port for security gateways (0 if off).
  std::uint16_t gateway_port() const { return gateway_listener_ ? gateway_listener_->port() : 0; }
  // The admin listener (service/admin.h): its port (0 if "off"), the
  // /metrics text, and drain(), which makes /readyz answer 503 "draining"
  // (on SIGTERM, for drain_time() before the process stops).
  std::uint16_t admin_port() const { return admin_ ? admin_->port() : 0; }
  std::string metrics() const;
  void drain() {
    if (admin_) admin_->set_draining();
  }
  std::chrono::milliseconds drain_time() const { return drain_; }
  KeyStats stats() const { return service_->stats(); }

 private:
  CseServer() = default;
  std::unique_ptr<link::Link> link_;  // outlives the pool's jobs and the acceptor
  std::unique_ptr<link::Link> feed_link_;  // revocation feeds only
  std::unique_ptr<service::AuditLog> audit_;
  std::unique_ptr<store::Store> store_;  // the resource tree
  std::unique_ptr<cse::Cse> cse_;
  std::unique_ptr<service::WorkerPool> pool_;
  // forward_pool_: gateway mode's forwarded requests block on the upstream;
  // on their own threads, they never hold up a key fetch.
  std::unique_ptr<service::WorkerPool> forward_pool_;
  std::unique_ptr<EntityB> service_;
  std::unique_ptr<service::Listeners> listeners_;
  std::unique_ptr<service::PlainHttpServer> gateway_listener_;
  std::unique_ptr<service::Periodic> revoker_;  // last: stops first
  std::chrono::milliseconds drain_{0};
  std::unique_ptr<service::AdminServer> admin_;  // last: stops first
};

}  // namespace m2msec::entityb
