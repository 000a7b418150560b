// m2msec/maf/maf.h: the M2M Authentication Function (seed 001; TS-0003
// 8.2.2.3, 8.8). Its key store is the seeds' MAS (seed 004): root keys (Km)
// with the CSE-IDs/AE-IDs they belong to, identified by the MAS-ID.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/expiring_cache.h"
#include "m2msec/core/ids.h"
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
#include "m2msec/service/purge.h"
#include "m2msec/service/role_store.h"
#include "m2msec/service/runtime.h"
#include "m2msec/store/store.h"

namespace m2msec::maf {

// PeerEntry names another server: its FQDN and "host:port".
struct PeerEntry {
  std::string fqdn;
  std::string address;
};

// CseEntry names an Entity B the MAF pushes new Kc keys to: the CSE-ID
// that key registrations name as target, its FQDN and "host:port".
struct CseEntry {
  std::string cse_id;
  std::string fqdn;
  std::string address;
};

// MafConfig is the [maf] table (docs/configuration.md).
struct MafConfig {
  service::ListenerSettings listen;
  std::string sp_domain;
  std::string mas_id;                     // MAS-ID (seed 004); default: the MAF-FQDN
  std::string admin_fqdn;                 // administrating stakeholder; default: sp_domain
  std::string data_dir;                   // holds maf.db and the KEK
  service::StoreSettings store;           // [maf.store]: SQLite (default) or PostgreSQL
  std::string kek_file;                   // default <data_dir>/kek.hex
  std::string audit_file;                 // default <data_dir>/audit.jsonl (docs/audit.md)
  IdEncoding id_encoding = IdEncoding::base64;  // KcID and KeID encoding
  std::int64_t kc_lifetime = 3600;        // default Kc lifetime (s), capped by Km's
  unsigned workers = 16;
  std::chrono::seconds purge_interval{300};  // expired Km and Kc rows deleted this often; 0: never
  std::vector<PeerEntry> mefs;            // MEFs it fetches Km from
  std::vector<CseEntry> cses;             // Entity Bs it serves: targets, retrieval, MAF Key Push
  std::size_t link_pool_size = 4;         // connections kept open per MEF
  std::chrono::milliseconds link_timeout{5000};  // deadline of one call to a MEF
  std::chrono::milliseconds push_timeout{500};   // deadline of one MAF Key Push (at most link_timeout)
  std::chrono::milliseconds revocation_poll{250};  // revocation feeds read this often
};

// link_options is the MAF's link::LinkOptions: its listener certificate
// and anchors, the link_* settings and require_extended_master_secret.
// Fails with the loaders' errors.
Result<link::LinkOptions> link_options(const MafConfig& cfg);

Result<MafConfig> load_maf_config(const service::ConfigFile& file);
Result<std::unique_ptr<store::Store>> open_maf_store(const MafConfig& cfg, bool create_kek);

// assigned_km_id is the KmID the MAF assigns to a remotely provisioned
// Km (8.8.2.3 assignedSymmKeyID): hex(RelativeKeID)@MAF-FQDN, a 10.6 KmID
// that is unique per Ke.
Result<KeyId> assigned_km_id(const KeyId& ke_id, const Fqdn& maf_fqdn);

// MafService is the MAF's logic, independent of sockets.
class MafService {
 public:
  // |link| (borrowed; null: Km is never fetched and Kc never pushed)
  // carries the calls to the MEFs and the Entity Bs and must outlive the
  // service.
  MafService(MafConfig cfg, store::Store& store, service::WorkerPool& pool, link::Link* link);
  // The destructor calls close().
  ~MafService();
  MafService(const MafService&) = delete;
  MafService& operator=(const MafService&) = delete;

  // close stops handing work to the pool from store completions (they
  // then answer without pushing Kc). Call it before the pool is destroyed.
  void close();

  // psk_lookup (MAF handshake, 8.8.2.2): a KmID of this MAF resolves from
  // the key store; a KeID of a configured MEF resolves from the store or,
  // the first time, by fetching Km from that MEF (8.3.2.1 "Use of Remotely
  // Provisioned Credential"). Unknown, expired, or unreachable MEF: error.
  void psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done);

  // handle serves the Mmaf requests:
  //   CREATE   /maf            (sec:mcr)  MAF Client Registration   8.8.2.3
  //   CREATE   /maf/keys       (sec:mkr)  MAF Key Registration      8.8.2.7
  //   RETRIEVE /maf/keys/<rel>            MAF Key Retrieval         8.8.2.8
  //   DELETE   /maf/keys/<rel>            MAF Key De-Registration   8.8.2.10
  //   DELETE   /maf/clients/<KmID>        MAF Client De-Registration 8.8.2.6
  void handle(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);

  // on_session_start binds a PSK session to the MAF client whose Km the
  // handshake used (entity ID and Km expiry into the context), from the
  // client cache the handshake filled; on a miss the requests look the
  // client up themselves.
  void on_session_start(service::AuthContext& ctx);

  // set_audit makes the service record grants and refusals in |log|
  // (borrowed, outlives the service; null: no audit). Call before serving.
  void set_audit(service::AuditLog* log) { audit_ = log; }

  // SessionCloser closes the serving sessions a predicate accepts and
  // returns how many (service::Listeners::close_sessions).
  using SessionCloser = std::function<std::size_t(const std::function<bool(const service::AuthContext&)>&)>;
  // set_session_closer gives the service its listeners' closer. Call
  // before sync_revocations runs.
  void set_session_closer(SessionCloser closer) { close_sessions_ = std::move(closer); }

  // follow_revocations makes sync_revocations read every configured MEF's
  // revocation feed over |feed_link| (borrowed, outlives the service; a
  // link of its own, so that polls of a MEF that is down do not open the
  // breaker Km fetches go through). Until the first round has read them
  // all, Km from a MEF is not served. Call before serving.
  void follow_revocations(link::Link& feed_link);

  // sync_revocations is one round of revocation handling (docs/protocol.md
  // "Revocation feed"): it reads the feed of every configured MEF and
  // revokes the Km derived from each KeID that ended there (remembered in
  // the MAF's own log), then applies the MAF's new log entries, whoever
  // wrote them (those, and an operator's "maf revoke" in another process):
  // the client is forgotten and its sessions closed. Run it from one
  // thread, every revocation_poll.
  void sync_revocations();
  // revocations_synced is true once every MEF feed has been read since
  // start. Until then a Km that came from a MEF is not served: it may have
  // been revoked while this MAF was down.
  bool revocations_synced() const { return feeds_synced_.load(); }

  // PushStats counts MAF Key Push: keys waiting for the push in flight to
  // their Entity B, and the requests and keys sent (a batch is one
  // request of several keys).
  struct PushStats {
    std::size_t queued = 0;
    std::uint64_t requests = 0;
    std::uint64_t keys = 0;
  };
  PushStats push_stats() const;

  // FetchStats counts the Km fetches from the MEFs: KeIDs waiting for the
  // fetch in flight to their MEF, and the requests and KeIDs sent (a
  // batch is one request of several KeIDs).
  struct FetchStats {
    std::size_t queued = 0;
    std::uint64_t requests = 0;
    std::uint64_t keys = 0;
  };
  FetchStats fetch_stats() const;

 private:
  using ClientRef = std::shared_ptr<const store::MafClient>;
  // client_km_id is the canonical KmID behind a MAF PSK identity (a KmID
  // of this MAF, or the KmID assigned to a KeID); nullopt for others.
  std::optional<std::string> client_km_id(std::string_view identity) const;
  // client_for reads the MAF client behind an authenticated PSK identity
  // from the store (worker threads only).
  Result<ClientRef> client_for(const tls::PeerIdentity& peer, std::int64_t now);
  // remember caches |c| (and returns it) so the requests that follow its
  // handshake need no store read.
  ClientRef remember(store::MafClient c);
  void store_key(const proto::Request& req, const service::AuthContext& ctx, proto::MafKeyRegRequest body,
                 const std::string& entity, std::optional<std::int64_t> km_expires, proto::Reply reply);
  void register_client(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void register_key(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void retrieve_key(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void delete_key(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  // delete_keys answers a MafKeyDeregBatch: each entry as delete_key would.
  void delete_keys(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  // deleting_requester is who asks for a de-registration on |ctx|'s
  // session: its MAF client's entity, or an infrastructure certificate's;
  // "" if none, or if it is not the request's From.
  std::string deleting_requester(const service::AuthContext& ctx, const proto::Request& req, std::int64_t now);
  // delete_one de-registers the Kc |key| (canonical KcID) for |requester|,
  // its source or a target; with |holder|, only that Entity B process's
  // hold goes (docs/protocol.md "Kc holders"). |reply| gets 2002 or the
  // refusal. Runs on a worker (it reads the store).
  void delete_one(const proto::Request& req, const std::string& requester, const std::string& key,
                  const std::string& holder, proto::Reply reply);
  // holder_key is how a Kc hold by |holder|, a process of Entity B
  // |requester|, is stored.
  static std::string holder_key(const std::string& requester, const std::string& holder);
  void delete_client(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  void revocation_feed(const service::AuthRef& ctx, const proto::Request& req, proto::Reply reply);
  // apply_mef_entries revokes the Km derived from each KeID in |entries|.
  Status apply_mef_entries(const std::vector<proto::RevocationEntry>& entries);
  // apply_own_log applies the MAF log's entries after own_seq_.
  void apply_own_log();
  // serving_refusal: why a client read from the store must not be served
  // yet (a Km from a MEF before the MEF feeds were read); nullopt if it may.
  std::optional<Error> serving_refusal(const store::MafClient& c) const;
  // A fetch lane per MEF: one Km fetch in flight at a time, and the KeIDs
  // whose first handshakes arrive meanwhile go together in the next
  // request (sec:fcb), so the fetches cost one exchange per batch, not per
  // KeID, as the load grows. While a full batch waits for each fetch in
  // flight (a slow MEF), another worker fetches, up to kMaxFetchSenders. A
  // KeID alone goes as the RETRIEVE of 8.3.2.1.
  static constexpr unsigned kMaxFetchSenders = 4;
  struct QueuedFetch {
    KeyId ke_id;
    KeyId km_id;
    tls::Transport transport;
    std::function<void(Result<SecretBytes>)> done;  // called once; empty after
  };
  struct FetchLane {
    mutable std::mutex mu;
    unsigned sending = 0;              // workers sending |queued|
    std::vector<QueuedFetch> queued;
    std::atomic<bool> batches{true};   // false once the MEF refused a batch (4000, 4004, 4005)
  };
  // fetch_km fetches Km for |ke_id| from its MEF (|done| gets Km once it is
  // stored durably, or why not). Runs on a worker, which may then send
  // the lane's batches.
  void fetch_km(const KeyId& ke_id, const KeyId& km_id, tls::Transport transport,
                std::function<void(Result<SecretBytes>)> done);
  // answer hands |r| to |q| once: its callback is empty afterwards.
  static void answer(QueuedFetch& q, Result<SecretBytes> r);
  void send_fetches(std::size_t mef);
  void fetch_batch(std::size_t mef, std::vector<QueuedFetch>& batch);
  void fetch_one(std::size_t mef, QueuedFetch& q);
  // accept_km stores the Km the MEF gave for |q| (durably, without
  // holding the worker) and then answers |q|.
  void accept_km(std::size_t mef, QueuedFetch& q, proto::CredentialResponse cred);

  MafConfig cfg_;
  Fqdn fqdn_;
  store::Store& store_;
  service::WorkerPool& pool_;
  service::AuditLog* audit_ = nullptr;
  // known_entity_b: with [[maf.cse]] configured, only those Entity Bs, by
  // CSE-ID and certificate FQDN, may be targets and retrieve Kc.
  bool known_entity_b(const std::string& cse_id, const tls::PeerIdentity& peer) const;
  // A push lane per target Entity B: one push in flight at a time, and the
  // keys committed meanwhile go together in the next request (sec:mkb), so
  // the pushes cost one exchange per batch, not per key, as the load grows.
  // While a full batch waits for each push in flight (a slow Entity B),
  // another worker pushes, up to kMaxPushDrainers. Each registration is
  // answered once its key's push has ended.
  static constexpr unsigned kMaxPushDrainers = 4;
  using QueuedPush = std::pair<std::shared_ptr<const proto::MafKeyPush>, std::function<void()>>;
  struct PushLane {
    mutable std::mutex mu;
    unsigned draining = 0;             // workers draining |queued|
    std::vector<QueuedPush> queued;
    std::atomic<bool> batches{true};   // false once the Entity B refused a batch (4000)
  };
  // CsePeer is a [[maf.cse]]: where its Entity B listens, and its lane.
  struct CsePeer {
    std::string cse_id;
    link::Peer peer;
    PushLane lane;
  };
  // push_kc hands a committed Kc to |cse| (MAF Key Push), best effort: a
  // failure only means Entity B will retrieve it.
  void push_kc(CsePeer& cse, const proto::MafKeyPush& push);
  Result<proto::Response> send_push(CsePeer& cse, nlohmann::json content, std::size_t keys);
  void queue_push(CsePeer& cse, std::shared_ptr<const proto::MafKeyPush> push, std::function<void()> answer);
  void drain_pushes(CsePeer& cse);
  void push_batch(CsePeer& cse, const std::vector<QueuedPush>& batch);

  link::Link* link_;
  std::vector<link::Peer> mef_peers_;  // cfg_.mefs, resolved once
  std::vector<std::unique_ptr<FetchLane>> fetch_lanes_;  // one per cfg_.mefs entry
  std::atomic<std::uint64_t> fetch_requests_{0};
  std::atomic<std::uint64_t> fetched_keys_{0};
  std::map<std::string, CsePeer> cse_peers_;  // cfg_.cses by CSE-ID; fixed after construction
  std::atomic<std::uint64_t> push_requests_{0};
  std::atomic<std::uint64_t> pushed_keys_{0};
  // Gate lets a store completion (writer thread) post to the pool only
  // while the service is open.
  struct Gate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  // Concurrent first handshakes with one KeID share one fetch (and one
  // store write); a KeID the MEF refused is refused locally for a while.
  link::SingleFlight<std::string, SecretBytes> fetches_;
  link::NegativeCache<std::string> refused_{1024, std::chrono::seconds(5)};
  // Clients read by recent handshakes, by canonical KmID, so that the
  // session they start is bound without a second read: bounded and
  // short-lived (Km stays in memory no longer than an association takes
  // to register its Kc; a client replaced or de-registered here is
  // dropped at once). Handshakes never answer from it.
  ExpiringCache<std::string, ClientRef> clients_{4096, std::chrono::seconds(2)};
  // The KmID each entity was last remembered under, put beside clients_
  // (same bound, same lifetime), so that remembering an entity's new Km
  // drops its previous one without scanning clients_.
  ExpiringCache<std::string, std::string> km_of_entity_{4096, std::chrono::seconds(2)};
  // Revocation: one follower per MEF feed; the position in the MAF's own
  // log (-1 until the first round, which starts at its head).
  std::vector<std::unique_ptr<link::FeedFollower>> feeds_;
  std::atomic<bool> feeds_synced_{true};
  std::int64_t own_seq_ = -1;
  std::string own_epoch_;
  SessionCloser close_sessions_;
};

class MafServer {
 public:
  static Result<std::unique_ptr<MafServer>> start(MafConfig cfg);
  ~MafServer();
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

 private:
  MafServer() = default;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<service::AuditLog> audit_;
  std::unique_ptr<link::Link> link_;  // outlives the pool's jobs and the service
  std::unique_ptr<link::Link> feed_link_;  // revocation feeds only
  std::unique_ptr<service::WorkerPool> pool_;
  std::unique_ptr<MafService> service_;
  std::unique_ptr<service::Listeners> listeners_;
  std::unique_ptr<service::ExpiryPurger> purger_;  // stops before the store closes
  std::unique_ptr<service::Periodic> revoker_;     // last: stops first
  std::chrono::milliseconds drain_{0};
  std::unique_ptr<service::AdminServer> admin_;  // last: stops first
};

}  // namespace m2msec::maf
