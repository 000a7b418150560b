#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>

#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_client.h"
#include "m2msec/proto/messages.h"
#include "m2msec/service/role_store.h"

namespace m2msec::maf {
namespace {

using proto::Request;
using proto::Rsc;

proto::Response refusal(const Request& req, const Error& err, std::string_view what) {
  return service::store_refusal(req, err, what, "maf");
}

// is_refusal: the MEF's answer about a KeID (remembered for a while), as
// opposed to a transport failure (which says nothing about the KeID).
bool is_refusal(const Error& e) { return e.code() == Errc::unknown_psk_identity || e.code() == Errc::key_expired; }

}  // namespace

Result<KeyId> assigned_km_id(const KeyId& ke_id, const Fqdn& maf_fqdn) {
  auto rel = ke_id.encoding() == IdEncoding::hex ? hex_decode(ke_id.relative()) : base64_decode(ke_id.relative());
  if (!rel) return std::unexpected(rel.error());
  return KeyId::parse(KeyIdKind::km, hex_encode(*rel) + "@" + maf_fqdn.str());
}

MafService::MafService(MafConfig cfg, store::Store& store, service::WorkerPool& pool, link::Link* link)
    : cfg_(std::move(cfg)), fqdn_(*Fqdn::parse(cfg_.listen.fqdn)), store_(store), pool_(pool), link_(link) {
  for (const PeerEntry& m : cfg_.mefs) {
    auto ep = service::parse_endpoint(m.address);  // checked by load_maf_config
    mef_peers_.push_back(ep ? link::Peer{ep->host, ep->port, m.fqdn} : link::Peer{m.address, 0, m.fqdn});
    fetch_lanes_.push_back(std::make_unique<FetchLane>());
  }
  for (const CseEntry& c : cfg_.cses) {
    if (auto ep = service::parse_endpoint(c.address)) {
      CsePeer& cse = cse_peers_[c.cse_id];  // built in place: a lane does not move
      cse.cse_id = c.cse_id;
      cse.peer = link::Peer{ep->host, ep->port, c.fqdn};
    }
  }
}

void MafService::follow_revocations(link::Link& feed_link) {
  // Each MEF's feed is read from where this MAF left off (persisted), or
  // from its start the first time.
  for (std::size_t i = 0; i < cfg_.mefs.size(); ++i) {
    const std::string issuer = Fqdn::parse(cfg_.mefs[i].fqdn)->str();
    link::FeedPosition start{"", 0};
    if (auto c = store_.revocations().cursor(issuer)) start = link::FeedPosition{c->epoch, c->seq};
    feeds_.push_back(std::make_unique<link::FeedFollower>(
        feed_link, mef_peers_[i], std::string(proto::kMefRevocationsPrefix), fqdn_.str(), std::move(start),
        [this](const std::vector<proto::RevocationEntry>& e) { return apply_mef_entries(e); },
        [this, issuer](const link::FeedPosition& p) {
          return store_.revocations().set_cursor(issuer, store::FeedCursor{p.epoch, p.seq});
        }));
  }
  feeds_synced_ = feeds_.empty();
}

std::optional<Error> MafService::serving_refusal(const store::MafClient& c) const {
  if (c.source == store::KmSource::mef && !feeds_synced_.load()) {
    return Error(Errc::unknown_psk_identity, "the MEF's revocations are not read yet since start");
  }
  return std::nullopt;
}

Status MafService::apply_mef_entries(const std::vector<proto::RevocationEntry>& entries) {
  const std::int64_t now = service::now_unix();
  std::vector<store::Revocation> revoked;
  for (const proto::RevocationEntry& e : entries) {
    if (e.kind != "ke") continue;
    auto ke_id = KeyId::parse(KeyIdKind::ke, e.key_id, cfg_.id_encoding);
    if (!ke_id) {
      spdlog::warn("maf: revocation feed entry {} names no KeID: {}", e.seq, printable(e.key_id, 128));
      continue;
    }
    auto km_id = assigned_km_id(*ke_id, fqdn_);
    if (!km_id) continue;
    store::Revocation r;
    r.kind = store::RevokedKind::km;
    r.key_id = km_id->canonical();
    r.entity_id = e.entity_id;
    r.expires_at = e.expiration != 0 ? e.expiration : std::numeric_limits<std::int64_t>::max();
    if (r.expires_at <= now) continue;  // expired anyway
    revoked.push_back(std::move(r));
  }
  if (revoked.empty()) return {};
  // One transaction per page: a mass revocation at the MEF costs the MAF
  // one commit per feed page, not one per key.
  auto existed = store_.maf().revoke_clients(revoked, now);
  if (!existed) return std::unexpected(existed.error());
  spdlog::info("maf: the MEF ended {} enrolment(s): {} Km revoked here, the others will not be fetched",
               revoked.size(), *existed);
  for (const store::Revocation& r : revoked) service::audit_revocation(audit_, "km", r.key_id, r.entity_id, "mef");
  return {};
}

void MafService::apply_own_log() {
  for (int pages = 0; pages < 100; ++pages) {
    auto page = store_.revocations().after(own_seq_, "", store::kMaxRevocationPage);
    if (!page) {
      spdlog::warn("maf: cannot read the revocation log: {}", page.error().message());
      return;
    }
    if (own_seq_ >= 0 && page->epoch == own_epoch_) {
      for (const store::Revocation& r : page->entries) {
        if (r.kind != store::RevokedKind::km) continue;
        const std::string km = r.key_id;
        clients_.erase(km);
        std::size_t closed = 0;
        if (close_sessions_) {
          closed = close_sessions_([this, &km](const service::AuthContext& ctx) {
            auto key = client_km_id(ctx.key_id);
            return key && *key == km;
          });
        }
        spdlog::info("maf: Km {} revoked; closed {} session(s)", km, closed);
      }
    }
    own_epoch_ = page->epoch;
    own_seq_ = page->more ? page->entries.back().seq : page->head;
    if (!page->more) return;
  }
}

void MafService::sync_revocations() {
  bool all = true;
  for (auto& f : feeds_) {
    if (Status st = f->poll(cfg_.link_timeout); !st) {
      all = false;
      spdlog::warn("maf: revocation feed of MEF {} not read: {}", f->peer().fqdn, st.error().message());
    }
    all = all && f->synced();
  }
  if (all && !feeds_synced_.exchange(true)) spdlog::info("maf: revocation feeds read; serving Km from MEFs");
  apply_own_log();
}

MafService::~MafService() { close(); }

void MafService::close() {
  std::lock_guard lock(gate_->mu);
  gate_->open = false;
}

// fetch_km: 8.3.2.1 "If the Enrolment Target wishes to fetch any
// credential information from the MEF, a retrieve request to MEF with the
// target URI set to /fetchCredentials/<KeID>/<security-usage-identifier>"
// (fetch_one), or several in one request (fetch_batch).
void MafService::fetch_km(const KeyId& ke_id, const KeyId& km_id, tls::Transport transport,
                          std::function<void(Result<SecretBytes>)> done) {
  auto mef = std::find_if(cfg_.mefs.begin(), cfg_.mefs.end(),
                          [&](const PeerEntry& m) { return Fqdn::parse(m.fqdn)->matches(ke_id.fqdn()); });
  if (mef == cfg_.mefs.end()) return done(fail(Errc::unknown_psk_identity, "KeID of an unknown MEF"));
  if (link_ == nullptr) return done(fail(Errc::connect_failed, "no link to the MEFs"));
  const auto index = static_cast<std::size_t>(mef - cfg_.mefs.begin());
  FetchLane& lane = *fetch_lanes_[index];
  {
    std::lock_guard lock(lane.mu);
    lane.queued.push_back(QueuedFetch{ke_id, km_id, transport, std::move(done)});
    // The workers sending the lane take it with their next batch; another
    // starts only when a full batch waits for each of them.
    if (lane.sending > 0 &&
        (lane.queued.size() < proto::kMaxFetchBatch * lane.sending || lane.sending >= kMaxFetchSenders)) {
      return;
    }
    ++lane.sending;
  }
  send_fetches(index);
}

void MafService::answer(QueuedFetch& q, Result<SecretBytes> r) {
  if (auto done = std::exchange(q.done, nullptr)) done(std::move(r));
}

void MafService::send_fetches(std::size_t mef) {
  FetchLane& lane = *fetch_lanes_[mef];
  while (true) {
    std::vector<QueuedFetch> batch;
    {
      std::lock_guard lock(lane.mu);
      if (lane.queued.empty()) {
        --lane.sending;
        return;
      }
      const auto n = static_cast<std::ptrdiff_t>(std::min(lane.queued.size(), proto::kMaxFetchBatch));
      batch.assign(std::make_move_iterator(lane.queued.begin()), std::make_move_iterator(lane.queued.begin() + n));
      lane.queued.erase(lane.queued.begin(), lane.queued.begin() + n);
    }
    try {
      fetch_batch(mef, batch);
    } catch (const std::exception& e) {
      spdlog::error("maf: Km fetch from MEF {} failed: {}", cfg_.mefs[mef].fqdn, printable(e.what()));
    }
    // Whatever the batch did not answer (it threw) fails, so that no
    // handshake waits for a fetch that ended.
    for (QueuedFetch& q : batch) answer(q, fail(Errc::connect_failed, "Km fetch failed"));
  }
}

// fetch_batch fetches |batch| in one request (sec:fcb), or one KeID per
// request (the RETRIEVE of 8.3.2.1) when it holds one KeID or the MEF
// does not take batches.
void MafService::fetch_batch(std::size_t mef, std::vector<QueuedFetch>& batch) {
  FetchLane& lane = *fetch_lanes_[mef];
  const std::string& name = cfg_.mefs[mef].fqdn;
  if (batch.size() == 1 || !lane.batches.load(std::memory_order_relaxed)) {
    for (QueuedFetch& q : batch) fetch_one(mef, q);
    return;
  }
  proto::CredentialFetchBatch body;
  body.entries.reserve(batch.size());
  for (const QueuedFetch& q : batch) {
    body.entries.push_back(
        {q.ke_id.str(), hex_encode(crypto::ua_security_protocol_id(proto::ua_binding(q.transport)))});
  }
  proto::Request req;
  req.op = proto::Operation::create;
  req.to = std::string(proto::kMefFetchBatchPath);
  req.ty = proto::kTyCredentialFetch;
  req.from = fqdn_.str();
  req.content = body.to_json();
  fetch_requests_.fetch_add(1, std::memory_order_relaxed);
  fetched_keys_.fetch_add(batch.size(), std::memory_order_relaxed);
  auto rsp = link_->call(mef_peers_[mef], std::move(req));
  if (!rsp) {
    spdlog::warn("maf: MEF {} unreachable for {} KeIDs: {}", name, batch.size(), rsp.error().message());
    for (QueuedFetch& q : batch) answer(q, fail(Errc::connect_failed, "MEF " + name + " unreachable"));
    return;
  }
  if (rsp->rsc == Rsc::bad_request || rsp->rsc == Rsc::not_found || rsp->rsc == Rsc::operation_not_allowed) {
    // A MEF that predates sec:fcb: one KeID per request from now on.
    spdlog::info("maf: MEF {} refused a batch of Km fetches (RSC {}); fetching one KeID per request", name,
                 static_cast<int>(rsp->rsc));
    lane.batches.store(false, std::memory_order_relaxed);
    for (QueuedFetch& q : batch) fetch_one(mef, q);
    return;
  }
  if (auto st = proto::expect_success(*rsp); !st) {
    spdlog::info("maf: MEF {} refused a batch of {} KeIDs: {}", name, batch.size(), st.error().detail());
    for (QueuedFetch& q : batch) answer(q, fail(Errc::unknown_psk_identity, "MEF refused the KeID"));
    return;
  }
  auto results = proto::CredentialFetchResults::from_json(rsp->content);
  if (!results || results->entries.size() != batch.size()) {
    spdlog::warn("maf: MEF {} answered a batch of {} KeIDs without a result per KeID", name, batch.size());
    for (QueuedFetch& q : batch) answer(q, fail(Errc::connect_failed, "MEF " + name + " answered no result"));
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    proto::CredentialFetchResults::Entry& e = results->entries[i];
    if (e.rsc != static_cast<int>(Rsc::ok)) {
      spdlog::info("maf: MEF {} refused {}: RSC {}", name, batch[i].ke_id.str(), e.rsc);
      answer(batch[i], fail(Errc::unknown_psk_identity, "MEF refused the KeID"));
      continue;
    }
    auto cred = proto::CredentialResponse::from_json(e.content);
    if (!cred) {
      answer(batch[i], std::unexpected(cred.error()));
      continue;
    }
    accept_km(mef, batch[i], std::move(*cred));
  }
}

// 8.3.2.1 "Use of Remotely Provisioned Credential": one KeID, one
// RETRIEVE /mef/fetchCredentials/<KeID>/21.
//
// 8.3.2.3: in the GBA-based framework the KeID is a B-TID and Km its
// Ks_NAF, whose NAF_Id ends with the Ua security protocol identifier of
// the device's session here, so the request names it ("?ua=", Zn); the MEF
// ignores it for a KeID of its exporter. A B-TID's Km is thus the one of
// the transport the device first came over, which the device keeps using
// over either transport (docs/protocol.md 2.4). A batch names it per entry.
void MafService::fetch_one(std::size_t mef, QueuedFetch& q) {
  const std::string& name = cfg_.mefs[mef].fqdn;
  proto::Request req;
  req.op = proto::Operation::retrieve;
  req.to = proto::fetch_credentials_path(q.ke_id.str(), proto::kSuidMafKm, q.transport);
  req.from = fqdn_.str();
  fetch_requests_.fetch_add(1, std::memory_order_relaxed);
  fetched_keys_.fetch_add(1, std::memory_order_relaxed);
  auto rsp = link_->call(mef_peers_[mef], std::move(req));
  if (!rsp) {
    spdlog::warn("maf: MEF {} unreachable for {}: {}", name, q.ke_id.str(), rsp.error().message());
    return answer(q, fail(Errc::connect_failed, "MEF " + name + " unreachable"));
  }
  if (auto st = proto::expect_success(*rsp); !st) {
    spdlog::info("maf: MEF {} refused {}: {}", name, q.ke_id.str(), st.error().detail());
    return answer(q, fail(Errc::unknown_psk_identity, "MEF refused the KeID"));
  }
  auto cred = proto::CredentialResponse::from_json(rsp->content);
  if (!cred) return answer(q, std::unexpected(cred.error()));
  accept_km(mef, q, std::move(*cred));
}

// The MAF stores Km (seed 004: the MTF provisions the root key to the MAS)
// under the KmID it assigns, with the enrolee's ID and lifetime, durably,
// before any handshake uses it: the writer commits the Km of a batch
// together, and the worker does not wait for it.
void MafService::accept_km(std::size_t mef, QueuedFetch& q, proto::CredentialResponse cred) {
  const std::int64_t now = service::now_unix();
  if (cred.lifetime != 0 && cred.lifetime <= now) return answer(q, fail(Errc::key_expired, "Km lifetime has passed"));
  store::MafClient c;
  c.km_id = q.km_id.canonical();
  c.km = std::move(cred.key);
  c.entity_id = cred.enrolee_id;
  c.source = store::KmSource::mef;
  if (cred.lifetime != 0) c.expires_at = cred.lifetime;
  auto stored = std::make_shared<store::MafClient>(std::move(c));
  store_.maf().register_client_async(
      *stored, now,
      [this, stored, km_text = q.km_id.str(), mef_name = cfg_.mefs[mef].fqdn,
       done = std::exchange(q.done, nullptr)](Status st) {
        if (!st) return done(std::unexpected(st.error()));
        spdlog::info("maf: stored Km {} for {} from MEF {}", km_text, stored->entity_id, mef_name);
        service::audit_grant(audit_, "km", km_text, fqdn_.str(), "rsp", stored->expires_at, stored->entity_id);
        done(remember(std::move(*stored))->km.clone());
      });
}

MafService::FetchStats MafService::fetch_stats() const {
  FetchStats st;
  for (const auto& lane : fetch_lanes_) {
    std::lock_guard lock(lane->mu);
    st.queued += lane->queued.size();
  }
  st.requests = fetch_requests_.load(std::memory_order_relaxed);
  st.keys = fetched_keys_.load(std::memory_order_relaxed);
  return st;
}

std::optional<std::string> MafService::client_km_id(std::string_view identity) const {
  if (auto km_id = KeyId::parse(KeyIdKind::km, identity); km_id && km_id->fqdn().matches(fqdn_)) {
    return km_id->canonical();
  }
  auto ke_id = KeyId::parse(KeyIdKind::ke, identity, cfg_.id_encoding);
  if (!ke_id) return std::nullopt;
  auto km_id = assigned_km_id(*ke_id, fqdn_);
  if (!km_id) return std::nullopt;
  return km_id->canonical();
}

MafService::ClientRef MafService::remember(store::MafClient c) {
  auto ref = std::make_shared<const store::MafClient>(std::move(c));
  // The entity's previous registration (another KmID) stopped resolving:
  // forget it here too. An index by entity finds it without scanning the
  // cache, which holds every client of the last two seconds.
  if (auto previous = km_of_entity_.find(ref->entity_id); previous && *previous != ref->km_id) {
    clients_.erase(*previous);
  }
  km_of_entity_.put(ref->entity_id, ref->km_id);
  clients_.put(ref->km_id, ref);
  return ref;
}

void MafService::psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
  // Every handshake reads the store, so an operator's revoke (written to
  // the database by another process) refuses the very next handshake. The
  // client cache only carries what this read found into the session.
  pool_.post([this, identity = req.identity, transport = req.transport, done = std::move(done)] {
    const std::int64_t now = service::now_unix();
    if (auto km_id = KeyId::parse(KeyIdKind::km, identity); km_id && km_id->fqdn().matches(fqdn_)) {
      auto c = store_.maf().find_client(km_id->canonical(), now);
      if (!c) {
        spdlog::info("maf: refused KmID {}: {}", printable(identity), c.error().message());
        return done(fail(Errc::unknown_psk_identity, identity));
      }
      if (auto why = serving_refusal(*c)) {
        spdlog::info("maf: refused KmID {}: {}", printable(identity), why->detail());
        return done(std::unexpected(*why));
      }
      return done(remember(std::move(*c))->km.clone());
    }
    auto ke_id = KeyId::parse(KeyIdKind::ke, identity, cfg_.id_encoding);
    if (!ke_id) return done(fail(Errc::unknown_psk_identity, identity));
    auto km_id = assigned_km_id(*ke_id, fqdn_);
    if (!km_id) return done(fail(Errc::unknown_psk_identity, identity));
    const std::string key = km_id->canonical();
    if (auto c = store_.maf().find_client(key, now); c) {
      if (auto why = serving_refusal(*c)) return done(std::unexpected(*why));
      return done(remember(std::move(*c))->km.clone());
    }
    if (auto why = refused_.find(key)) return done(fail(why->code(), identity));
    // A Km revoked here (by an operator, or because the MEF ended its Ke)
    // is never fetched again.
    if (auto revoked = store_.revocations().is_revoked(store::RevokedKind::km, key, now); !revoked || *revoked) {
      spdlog::info("maf: refused KeID {}: its Km was revoked", printable(identity));
      refused_.add(key, Error(Errc::unknown_psk_identity, "revoked"));
      return done(fail(Errc::unknown_psk_identity, identity));
    }
    // Single flight: the first lookup of a KeID fetches, the others wait
    // for its result (one MEF round trip, one store write).
    auto waiter = [done](const Result<SecretBytes>& r) {
      if (!r) return done(std::unexpected(r.error()));
      done(r->clone());
    };
    if (!fetches_.join(key, std::move(waiter))) return;
    auto finish = [this, key](const Result<SecretBytes>& r) {
      if (!r && is_refusal(r.error())) refused_.add(key, r.error());
      fetches_.finish(key, r);
    };
    try {
      // A fetch that finished between find_client and join stored Km.
      if (auto c = store_.maf().find_client(key, now); c) return finish(remember(std::move(*c))->km.clone());
      // |finish| runs once the MEF answered and Km is stored (or not).
      fetch_km(*ke_id, *km_id, transport, finish);
    } catch (const std::exception& e) {
      // A fetch already queued answers |finish| itself; a second finish
      // of the key is then a no-op.
      spdlog::error("maf: Km fetch for {} failed: {}", printable(identity), printable(e.what()));
      finish(fail(Errc::connect_failed, "Km fetch failed"));
    }
  });
}

Result<MafService::ClientRef> MafService::client_for(const tls::PeerIdentity& peer, std::int64_t now) {
  if (peer.kind != tls::PeerIdentity::Kind::psk) return fail(Errc::not_found, "not a PSK session");
  auto key = client_km_id(peer.psk_identity);
  if (!key) return fail(Errc::not_found, "unknown identity");
  auto c = store_.maf().find_client(*key, now);
  if (!c) return std::unexpected(c.error());
  return remember(std::move(*c));
}

void MafService::on_session_start(service::AuthContext& ctx) {
  if (ctx.peer.kind != tls::PeerIdentity::Kind::psk) return;
  auto key = client_km_id(ctx.peer.psk_identity);
  if (!key) return;
  auto hit = clients_.find(*key);
  if (!hit) return;
  ctx.entity_id = (*hit)->entity_id;
  ctx.key_expires_at = (*hit)->expires_at;
}

void MafService::handle(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  reply = service::audit_refusals(audit_, *ctx, req, std::move(reply));
  using proto::Operation;
  if (req.to == proto::kMafPath && req.op == Operation::create && req.ty == proto::kTyMafClientReg) {
    return register_client(ctx, req, std::move(reply));
  }
  if ((req.to == proto::kMafPath || req.to == "/maf/keys") && req.op == Operation::create &&
      req.ty == proto::kTyMafKeyReg) {
    return register_key(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMafKeysPrefix) && req.op == Operation::retrieve) {
    return retrieve_key(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMafKeysPrefix) && req.op == Operation::del) {
    return delete_key(ctx, req, std::move(reply));
  }
  if (req.to == proto::kMafKeyDeregPath && req.op == Operation::create && req.ty == proto::kTyMafKeyDereg) {
    return delete_keys(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMafClientsPrefix) && req.op == Operation::del) {
    return delete_client(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMafRevocationsPrefix) && req.op == Operation::retrieve) {
    return revocation_feed(ctx, req, std::move(reply));
  }
  reply(proto::error_response(req, Rsc::not_found, "no such resource or operation"));
}

// 8.8.2.3: "If assignedSymmKeyID was included, then the MAF Client shall
// use this as Master Credential ID (KmID) hereafter".
void MafService::register_client(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  auto body = proto::MafClientRegRequest::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  auto target = Fqdn::parse(body->maf_fqdn);
  if (!target || !target->matches(fqdn_)) {
    return reply(proto::error_response(req, Rsc::bad_request, "MAF-FQDN does not name this MAF"));
  }
  auto answer = [this, req](const Result<ClientRef>& c, const proto::Reply& respond) {
    if (!c) return respond(refusal(req, c.error(), "MAF client"));
    const store::MafClient& client = **c;
    if (req.from != client.entity_id) {  // TS-0003 7.2.1
      return respond(proto::error_response(req, Rsc::originator_has_no_privilege,
                                           "X-M2M-Origin is not the authenticated entity"));
    }
    auto km_id = KeyId::parse(KeyIdKind::km, client.km_id);
    proto::MafClientRegResponse rsp;
    rsp.reg_id = std::string(km_id->relative());
    rsp.expiration = client.expires_at.value_or(0);
    rsp.client_id = client.entity_id;
    rsp.admin_fqdn = cfg_.admin_fqdn;
    rsp.assigned_key_id = client.source == store::KmSource::mef ? km_id->str() : "";
    spdlog::info("maf: registered client {} as {}", client.entity_id, km_id->str());
    service::audit_grant(audit_, "km", km_id->str(), client.entity_id, "maf", client.expires_at);
    respond(proto::ok_response(req, Rsc::created, rsp.to_json()));
  };
  // The handshake usually left the client in the cache: answer at once.
  if (auto key = client_km_id(ctx->key_id); key && ctx->peer.kind == tls::PeerIdentity::Kind::psk) {
    if (auto hit = clients_.find(*key); hit && (!(*hit)->expires_at || *(*hit)->expires_at > service::now_unix())) {
      return answer(*hit, reply);
    }
  }
  pool_.post([this, peer = ctx->peer, answer, reply = std::move(reply)] {
    answer(client_for(peer, service::now_unix()), reply);
  });
}

// 8.8.2.7 with 10.3.1: Kc and RelativeKcID come from the MAF handshake's
// exporter (label EXPORTER-oneM2M-Connection, length 48), so every
// association gets a fresh Kc. Seed 000: Kc lives no longer than Km.
void MafService::register_key(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  auto body = proto::MafKeyRegRequest::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  auto named = Fqdn::parse(body->maf_fqdn);
  if (!named || !named->matches(fqdn_)) {
    return reply(proto::error_response(req, Rsc::bad_request, "MAF-FQDN does not name this MAF"));
  }
  if (body->suid != proto::kSuidMafSaef) {
    return reply(proto::error_response(req, Rsc::bad_request, "SUID must be " + std::to_string(proto::kSuidMafSaef)));
  }
  if (body->targets.size() != 1) {
    return reply(proto::error_response(req, Rsc::bad_request, "MAF-based SAEF needs exactly one target"));
  }
  auto target = EntityId::parse(body->targets.front());
  if (!target) return reply(proto::error_response(req, Rsc::bad_request, "target is not a CSE-ID or AE-ID"));
  if (!cfg_.cses.empty() && cse_peers_.count(body->targets.front()) == 0) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "target is not an Entity B this MAF serves"));
  }
  if (ctx->exported.size() != crypto::kExportedSize) {
    return reply(proto::error_response(req, Rsc::internal_server_error, "key export failed"));
  }
  // The session was bound to its client when it started: no lookup.
  if (!ctx->entity_id.empty()) {
    return store_key(req, *ctx, std::move(*body), ctx->entity_id, ctx->key_expires_at, std::move(reply));
  }
  pool_.post([this, req, ctx, body = std::move(*body), reply = std::move(reply)]() mutable {
    auto c = client_for(ctx->peer, service::now_unix());
    if (!c) return reply(refusal(req, c.error(), "MAF client"));
    store_key(req, *ctx, std::move(body), (*c)->entity_id, (*c)->expires_at, std::move(reply));
  });
}

// store_key derives Kc from the session's exporter output, stores it and
// answers once the row is committed (no thread waits for the commit).
void MafService::store_key(const Request& req, const service::AuthContext& ctx, proto::MafKeyRegRequest body,
                           const std::string& entity, std::optional<std::int64_t> km_expires, proto::Reply reply) {
  if (req.from != entity) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin is not the authenticated entity"));
  }
  const std::int64_t now = service::now_unix();
  auto parts = crypto::split_exported(ctx.exported.view());
  if (!parts) return reply(proto::error_response(req, Rsc::internal_server_error, "key export failed"));
  auto kc_id = KeyId::from_relative(KeyIdKind::kc, parts->relative_id, fqdn_, cfg_.id_encoding);
  std::int64_t expires = body.expiration != 0 ? body.expiration : now + cfg_.kc_lifetime;
  if (expires > now + cfg_.kc_lifetime) expires = now + cfg_.kc_lifetime;
  if (km_expires && *km_expires < expires) expires = *km_expires;  // Kc <= Km
  if (expires <= now) return reply(proto::error_response(req, Rsc::bad_request, "expirationTime is in the past"));
  store::KcKey k;
  k.kc_id = kc_id->canonical();
  k.kc = std::move(parts->key);
  k.entity_a_id = entity;
  k.targets = body.targets;
  k.expires_at = expires;
  proto::MafKeyRegResponse rsp;
  rsp.relative_key_id = std::string(kc_id->relative());
  rsp.expiration = expires;
  rsp.source_id = entity;
  rsp.admin_fqdn = cfg_.admin_fqdn;
  rsp.suid = body.suid;
  rsp.targets = body.targets;
  // With a push configured for the target, Entity B gets Kc (after the
  // commit, so it never holds a key the MAF refused) before the device
  // hears back, so the device's first handshake there is already warm.
  std::shared_ptr<const proto::MafKeyPush> push;
  auto cse = cse_peers_.find(body.targets.front());
  CsePeer* push_to = link_ != nullptr && cse != cse_peers_.end() ? &cse->second : nullptr;
  if (push_to != nullptr) {
    proto::MafKeyPush p;
    p.kc_id = kc_id->str();
    p.key = k.kc.clone();
    p.expiration = expires;
    p.source_id = entity;
    p.admin_fqdn = cfg_.admin_fqdn;
    p.suid = body.suid;
    push = std::make_shared<const proto::MafKeyPush>(std::move(p));
  }
  store_.maf().register_kc_async(
      k, now,
      [this, gate = gate_, push, push_to, req, reply, body = rsp.to_json(), text = kc_id->str(), entity,
       target = body.targets.front(), expires](Status st) {
        if (!st) return reply(refusal(req, st.error(), "KcID"));
        spdlog::info("maf: registered {} for {} -> {}", text, entity, target);
        service::audit_grant(audit_, "kc", text, entity, "maf", expires, target);
        auto answer = [req, reply, body] { reply(proto::ok_response(req, Rsc::created, body)); };
        if (push) {
          // This runs on the store's writer thread: the push (a network
          // call) goes to the pool, while the service is open.
          std::lock_guard lock(gate->mu);
          if (gate->open) return queue_push(*push_to, push, std::move(answer));
        }
        answer();
      });
}

// revocation_feed serves the MAF's revocation feed (docs/protocol.md
// "Revocation feed") to the Entity Bs that may hold its Kc keys: the same
// requesters as MAF Key Retrieval.
void MafService::revocation_feed(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  if (ctx->peer.kind != tls::PeerIdentity::Kind::certificate) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "the feed needs a certificate"));
  }
  auto who = service::peer_entity_id(ctx->peer, cfg_.sp_domain, tls::AnchorRole::infrastructure);
  if (!who || *who != req.from) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin is not the authenticated CSE-ID"));
  }
  if (!known_entity_b(*who, ctx->peer)) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "not an Entity B this MAF serves"));
  }
  pool_.post([this, req, reply = std::move(reply)] {
    reply(service::revocation_feed(req, proto::kMafRevocationsPrefix, store_.revocations(), "", "maf"));
  });
}

bool MafService::known_entity_b(const std::string& cse_id, const tls::PeerIdentity& peer) const {
  if (cfg_.cses.empty()) return true;  // no list: any authenticated CSE named as target
  for (const CseEntry& c : cfg_.cses) {
    if (c.cse_id == cse_id && service::peer_has_fqdn(peer, c.fqdn, tls::AnchorRole::infrastructure)) return true;
  }
  return false;
}

// send_push sends one MAF Key Push request carrying |keys| keys to |cse|.
Result<proto::Response> MafService::send_push(CsePeer& cse, nlohmann::json content, std::size_t keys) {
  proto::Request req;
  req.op = proto::Operation::create;
  req.to = std::string(proto::kCseMafKeysPath);
  req.ty = proto::kTyMafKeyReg;
  req.from = fqdn_.str();
  req.content = std::move(content);
  // A push only saves Entity B a retrieval: it gets a short deadline, so
  // a slow Entity B delays an association by no more than this.
  const auto deadline = std::min(cfg_.link_timeout, cfg_.push_timeout);
  push_requests_.fetch_add(1, std::memory_order_relaxed);
  pushed_keys_.fetch_add(keys, std::memory_order_relaxed);
  // Pushing the same Kc under the same KcID twice has the effect of once,
  // so a push on a pooled connection Entity B closed (a restart) is sent
  // again on a fresh one.
  return link_->call(cse.peer, std::move(req), deadline, /*repeatable=*/true);
}

void MafService::push_kc(CsePeer& cse, const proto::MafKeyPush& push) {
  auto rsp = send_push(cse, push.to_json(), 1);
  if (!rsp) {
    spdlog::info("maf: could not push {} to {}: {}", push.kc_id, cse.cse_id, rsp.error().message());
  } else if (auto st = proto::expect_success(*rsp); !st) {
    spdlog::info("maf: {} refused the push of {}: {}", cse.cse_id, push.kc_id, printable(st.error().detail(), 256));
  }
}

MafService::PushStats MafService::push_stats() const {
  PushStats st;
  for (const auto& [id, cse] : cse_peers_) {
    std::lock_guard lock(cse.lane.mu);
    st.queued += cse.lane.queued.size();
  }
  st.requests = push_requests_.load(std::memory_order_relaxed);
  st.keys = pushed_keys_.load(std::memory_order_relaxed);
  return st;
}

void MafService::queue_push(CsePeer& cse, std::shared_ptr<const proto::MafKeyPush> push, std::function<void()> answer) {
  PushLane& lane = cse.lane;
  {
    std::lock_guard lock(lane.mu);
    lane.queued.emplace_back(std::move(push), std::move(answer));
    // The workers draining the lane take it with their next batch; another
    // starts only when a full batch waits for each of them.
    if (lane.draining > 0 &&
        (lane.queued.size() < proto::kMaxPushBatch * lane.draining || lane.draining >= kMaxPushDrainers)) {
      return;
    }
    ++lane.draining;
  }
  pool_.post([this, &cse] { drain_pushes(cse); });
}

void MafService::drain_pushes(CsePeer& cse) {
  PushLane& lane = cse.lane;
  while (true) {
    std::vector<QueuedPush> batch;
    {
      std::lock_guard lock(lane.mu);
      if (lane.queued.empty()) {
        --lane.draining;
        return;
      }
      const auto n = static_cast<std::ptrdiff_t>(std::min(lane.queued.size(), proto::kMaxPushBatch));
      batch.assign(std::make_move_iterator(lane.queued.begin()), std::make_move_iterator(lane.queued.begin() + n));
      lane.queued.erase(lane.queued.begin(), lane.queued.begin() + n);
    }
    try {
      push_batch(cse, batch);
    } catch (const std::exception& e) {
      // A push is best effort; its registrations are answered all the same.
      spdlog::warn("maf: push to {} failed: {}", cse.cse_id, printable(e.what()));
    }
    for (QueuedPush& q : batch) q.second();
  }
}

// push_batch pushes |batch| in one request (sec:mkb), or one key per
// request (sec:mkp) when it holds one key or the Entity B does not take
// batches.
void MafService::push_batch(CsePeer& cse, const std::vector<QueuedPush>& batch) {
  if (batch.size() == 1 || !cse.lane.batches.load(std::memory_order_relaxed)) {
    for (const QueuedPush& q : batch) push_kc(cse, *q.first);
    return;
  }
  proto::MafKeyPushBatch body;
  body.keys.reserve(batch.size());
  for (const QueuedPush& q : batch) body.keys.push_back(q.first->clone());
  nlohmann::json content = body.to_json();
  body.keys.clear();  // wipes the copies of Kc
  auto rsp = send_push(cse, std::move(content), batch.size());
  if (!rsp) {
    spdlog::info("maf: could not push {} keys to {}: {}", batch.size(), cse.cse_id, rsp.error().message());
    return;
  }
  if (auto st = proto::expect_success(*rsp); !st && rsp->rsc == Rsc::bad_request) {
    // An Entity B that predates sec:mkb: one key per request from now on.
    spdlog::info("maf: {} refused a batch of pushes ({}); pushing one key per request", cse.cse_id,
                 printable(st.error().detail(), 256));
    cse.lane.batches.store(false, std::memory_order_relaxed);
    for (const QueuedPush& q : batch) push_kc(cse, *q.first);
    return;
  } else if (!st) {
    spdlog::info("maf: {} refused the push of {} keys: {}", cse.cse_id, batch.size(),
                 printable(st.error().detail(), 256));
    return;
  }
  auto results = proto::MafKeyPushResults::from_json(rsp->content);
  if (!results || results->rsc.size() != batch.size()) {
    spdlog::info("maf: {} answered a push of {} keys with no result per key", cse.cse_id, batch.size());
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (results->rsc[i] != static_cast<int>(Rsc::created)) {
      spdlog::info("maf: {} refused the push of {}: RSC {}", cse.cse_id, batch[i].first->kc_id, results->rsc[i]);
    }
  }
}

// 8.8.2.8: "The MAF shall determine if the Target MAF Client is authorized
// to retrieve the registered key ... by comparing the authenticated
// identifier for Target MAF Client against the list of identifiers for
// authorized Target MAF Clients."
void MafService::retrieve_key(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  auto path = proto::parse_key_path(std::string_view(req.to).substr(proto::kMafKeysPrefix.size()));
  if (!path) return reply(proto::error_response(req, Rsc::bad_request, path.error().message()));
  auto kc_id = KeyId::parse(KeyIdKind::kc, path->relative + "@" + fqdn_.str(), cfg_.id_encoding);
  if (!kc_id) return reply(proto::error_response(req, Rsc::bad_request, kc_id.error().message()));
  // Issue 11 item 3: Entity B is infrastructure; a device CA naming
  // /in-cse gets no Kc.
  auto who = service::peer_entity_id(ctx->peer, cfg_.sp_domain, tls::AnchorRole::infrastructure);
  if (!who && who.error().code() == Errc::certificate_rejected) {
    spdlog::warn("maf: refused key retrieval by {}: {}", printable(req.from), who.error().detail());
  }
  if (!who || *who != req.from) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin is not the authenticated Entity B"));
  }
  if (!known_entity_b(*who, ctx->peer)) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "requester is not an Entity B this MAF serves"));
  }
  pool_.post([this, req, key = kc_id->canonical(), text = kc_id->str(), requester = *who, holder = path->holder,
               reply = std::move(reply)] {
    auto k = store_.maf().find_kc(key, service::now_unix());
    if (!k) return reply(refusal(req, k.error(), "KcID"));
    if (std::find(k->targets.begin(), k->targets.end(), requester) == k->targets.end()) {
      spdlog::warn("maf: {} is not a target of {}", requester, text);
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "requester is not a target of the key"));
    }
    auto rsp = std::make_shared<proto::MafKeyRetrieveResponse>(proto::MafKeyRetrieveResponse{
        std::move(k->kc), k->expires_at, k->entity_a_id, cfg_.admin_fqdn, proto::kSuidMafSaef});
    auto give = [this, req, text, requester, rsp, reply] {
      spdlog::info("maf: gave {} to {}", text, requester);
      service::audit_grant(audit_, "kc", text, requester, "maf", rsp->expiration, rsp->source_id);
      reply(proto::ok_response(req, Rsc::ok, rsp->to_json()));
    };
    if (holder.empty()) return give();
    // The hold is committed before the key is given, so that no other
    // holder's de-registration can drop the key this one now uses.
    store_.maf().hold_kc_async(key, holder_key(requester, holder), [this, gate = gate_, req, reply, give](Status st) {
      if (!st) return reply(refusal(req, st.error(), "KcID"));
      {
        // The grant is logged and audited on a worker, not on the store's
        // writer thread, while the service is open.
        std::lock_guard lock(gate->mu);
        if (gate->open) return pool_.post(give);
      }
      give();
    });
  });
}

std::string MafService::holder_key(const std::string& requester, const std::string& holder) {
  // Namespaced by the authenticated CSE-ID: a target names only its own
  // processes' holds.
  return requester + " " + holder;
}

// 8.8.2.10. The key's source (Entity A) or a target (Entity B, when the
// connection ends: seed 000) may de-register it.
void MafService::delete_key(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  auto path = proto::parse_key_path(std::string_view(req.to).substr(proto::kMafKeysPrefix.size()));
  if (!path) return reply(proto::error_response(req, Rsc::bad_request, path.error().message()));
  auto kc_id = KeyId::parse(KeyIdKind::kc, path->relative + "@" + fqdn_.str(), cfg_.id_encoding);
  if (!kc_id) return reply(proto::error_response(req, Rsc::bad_request, kc_id.error().message()));
  pool_.post([this, req, ctx, key = kc_id->canonical(), holder = path->holder, reply = std::move(reply)]() mutable {
    const std::string requester = deleting_requester(*ctx, req, service::now_unix());
    if (requester.empty()) {
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "requester is not authenticated"));
    }
    delete_one(req, requester, key, holder, std::move(reply));
  });
}

std::string MafService::deleting_requester(const service::AuthContext& ctx, const Request& req, std::int64_t now) {
  std::string requester = ctx.entity_id;
  if (requester.empty()) {
    if (auto c = client_for(ctx.peer, now); c) requester = (*c)->entity_id;
  }
  if (auto who = service::peer_entity_id(ctx.peer, cfg_.sp_domain, tls::AnchorRole::infrastructure); who) requester = *who;
  return requester == req.from ? requester : std::string();
}

void MafService::delete_one(const Request& req, const std::string& requester, const std::string& key,
                            const std::string& holder, proto::Reply reply) {
  // 8.8.2.10: de-registration ignores the key's expiry, so that an
  // expired Kc can still be removed by its source or a target.
  auto k = store_.maf().find_kc(key, store::kAnyExpiry);
  if (!k) return reply(refusal(req, k.error(), "KcID"));
  if (k->entity_a_id != requester &&
      std::find(k->targets.begin(), k->targets.end(), requester) == k->targets.end()) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "requester may not delete the key"));
  }
  auto done = [req, reply = std::move(reply)](Status st) {
    if (!st) return reply(refusal(req, st.error(), "KcID"));
    reply(proto::ok_response(req, Rsc::deleted, nullptr));
  };
  // A holder lets the key go; it goes when the last holder has (docs/
  // protocol.md "Kc holders"). Without a holder (Entity A, or an Entity
  // B that names none) the key goes at once.
  if (!holder.empty()) return store_.maf().release_kc_async(key, holder_key(requester, holder), std::move(done));
  store_.maf().deregister_kc_async(key, std::move(done));
}

// A batch of de-registrations (docs/protocol.md "MAF Key De-Registration"):
// the session and From are checked once; each entry is then answered as
// its own DELETE /maf/keys/<relative>[?holder=] would be, and audited so.
void MafService::delete_keys(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  auto body = proto::MafKeyDeregBatch::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  pool_.post([this, req, ctx, body = std::move(*body), reply = std::move(reply)]() mutable {
    const std::string requester = deleting_requester(*ctx, req, service::now_unix());
    if (requester.empty()) {
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "requester is not authenticated"));
    }
    struct Results {
      std::mutex mu;
      std::vector<int> rsc;
      std::size_t left;
      Request req;
      proto::Reply reply;
    };
    const std::size_t n = body.relative_ids.size();
    auto results = std::make_shared<Results>();
    results->rsc.assign(n, 0);
    results->left = n;
    results->req = req;
    results->reply = std::move(reply);
    auto answer = [results](std::size_t i, Rsc rsc) {
      std::unique_lock lock(results->mu);
      results->rsc[i] = static_cast<int>(rsc);
      if (--results->left > 0) return;
      lock.unlock();
      results->reply(proto::ok_response(results->req, Rsc::ok, proto::MafKeyDeregResults{results->rsc}.to_json()));
    };
    for (std::size_t i = 0; i < n; ++i) {
      Request one;  // what the entry's own DELETE would have been, for its answer and the audit
      one.op = proto::Operation::del;
      one.to = std::string(proto::kMafKeysPrefix) + proto::percent_encode(body.relative_ids[i]) +
               (body.holder.empty() ? "" : std::string(proto::kHolderQuery) + body.holder);
      one.from = req.from;
      one.rqi = req.rqi;
      proto::Reply each = service::audit_refusals(audit_, *ctx, one, [answer, i](proto::Response r) { answer(i, r.rsc); });
      auto kc_id = KeyId::parse(KeyIdKind::kc, body.relative_ids[i] + "@" + fqdn_.str(), cfg_.id_encoding);
      if (!kc_id) {
        each(proto::error_response(one, Rsc::bad_request, kc_id.error().message()));
        continue;
      }
      delete_one(one, requester, kc_id->canonical(), body.holder, std::move(each));
    }
  });
}

// 8.8.2.6: the client ends its registration; Km and its Kc keys go.
void MafService::delete_client(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  pool_.post([this, req, peer = ctx->peer, reply = std::move(reply)] {
    auto c = client_for(peer, service::now_unix());
    if (!c) return reply(refusal(req, c.error(), "MAF client"));
    const store::MafClient& client = **c;
    auto km_id = KeyId::parse(KeyIdKind::km, client.km_id);
    const std::string target = std::string(proto::kMafClientsPrefix) + proto::percent_encode(km_id->str());
    if (req.from != client.entity_id || (req.to != target && req.to != std::string(proto::kMafClientsPrefix) +
                                                                    std::string(km_id->relative()))) {
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "may only de-register itself"));
    }
    if (auto st = store_.maf().deregister_client(client.km_id); !st) {
      return reply(refusal(req, st.error(), "MAF client"));
    }
    clients_.erase(client.km_id);
    spdlog::info("maf: de-registered client {}", client.entity_id);
    reply(proto::ok_response(req, Rsc::deleted, nullptr));
  });
}

}  // namespace m2msec::maf
