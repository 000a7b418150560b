#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <optional>
#include <set>

#include "m2msec/authz/authz.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/proto/json_reader.h"
#include "m2msec/proto/http_client.h"
#include "m2msec/proto/messages.h"

namespace m2msec::entityb {
namespace {

using proto::Request;
using proto::Rsc;

// is_refusal: the issuer's answer about a key identifier (remembered for a
// while), as opposed to a transport failure (which says nothing about it).
bool is_refusal(const Error& e) { return e.code() == Errc::unknown_psk_identity || e.code() == Errc::key_expired; }

const PeerEntry* find_peer(const std::vector<PeerEntry>& peers, const Fqdn& fqdn) {
  for (const PeerEntry& p : peers) {
    if (Fqdn::parse(p.fqdn)->matches(fqdn)) return &p;
  }
  return nullptr;
}

// new_holder_id is 16 random bytes in hex: this process's name as a Kc
// holder.
std::string new_holder_id() {
  std::array<std::uint8_t, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // No randomness: a name unique enough among the replicas of one host.
    return "pid-" + std::to_string(::getpid()) + "-" + std::to_string(service::now_unix());
  }
  return hex_encode(b);
}

}  // namespace

EntityB::EntityB(CseConfig cfg, service::WorkerPool& pool, link::Link* link, std::map<std::string, CachedKey> provisioned)
    : cfg_(std::move(cfg)), pool_(pool), link_(link), holder_(new_holder_id()), keys_(std::move(provisioned)),
      started_(service::now_unix()) {}

std::string EntityB::key_target(const KeyId& kc_id) const {
  return std::string(proto::kMafKeysPrefix) + proto::percent_encode(kc_id.relative()) +
         std::string(proto::kHolderQuery) + holder_;
}

void EntityB::follow_revocations(link::Link& feed_link) {
  // Entity B holds no key before it starts, so each feed is read from its
  // head: only what is revoked from now on can concern it.
  auto follow = [this, &feed_link](const PeerEntry& p, std::string_view prefix, bool maf) {
    auto ep = service::parse_endpoint(p.address);  // checked by load_cse_config
    if (!ep) return;
    const Fqdn issuer = *Fqdn::parse(p.fqdn);
    feeds_.push_back(std::make_unique<link::FeedFollower>(
        feed_link, link::Peer{ep->host, ep->port, p.fqdn}, std::string(prefix), cfg_.cse_id, link::FeedPosition{},
        [this, issuer, maf](const std::vector<proto::RevocationEntry>& e) {
          return maf ? apply_maf_entries(issuer, e) : apply_mef_entries(issuer, e);
        }));
  };
  for (const PeerEntry& m : cfg_.mafs) follow(m, proto::kMafRevocationsPrefix, true);
  for (const PeerEntry& m : cfg_.mefs) follow(m, proto::kMefRevocationsPrefix, false);
}

// gba_kpsa_key names the Kpsa of B-TID |b_tid| met over |transport|:
// its Ks_NAF depends on the transport's Ua identifier.
static std::string gba_kpsa_key(const KeyId& b_tid, tls::Transport transport) {
  return b_tid.canonical() + "|" + std::string(tls::transport_name(transport));
}

std::string EntityB::key_for_identity(std::string_view identity, tls::Transport transport) const {
  auto kc_id = KeyId::parse(KeyIdKind::kc, identity, cfg_.id_encoding);
  if (kc_id && find_peer(cfg_.mafs, kc_id->fqdn())) return kc_id->canonical();
  if (auto kpsa_id = KeyId::parse(KeyIdKind::kpsa, identity)) return kpsa_id->canonical();
  if (auto b_tid = KeyId::parse(KeyIdKind::ke, identity);
      b_tid && b_tid->has_b_tid_form() && find_peer(cfg_.mefs, b_tid->fqdn())) {
    return gba_kpsa_key(*b_tid, transport);
  }
  return "";
}

std::size_t EntityB::drop_keys(const std::function<bool(const std::string&, const CachedKey&)>& match,
                               std::string_view kind, std::string_view source) {
  std::vector<std::pair<std::string, std::string>> dropped;  // key ID, entity
  {
    std::lock_guard lock(mu_);
    for (auto it = keys_.begin(); it != keys_.end();) {
      if (!match(it->first, it->second)) {
        ++it;
        continue;
      }
      dropped.emplace_back(it->first, it->second.entity_id);
      it = keys_.erase(it);  // CachedKey's SecretBytes wipes the key
    }
    stats_.revoked += dropped.size();
  }
  if (dropped.empty()) return 0;
  for (const auto& d : dropped) {
    revoked_.put(d.first, true);
    service::audit_revocation(audit_, kind, d.first, d.second, source);
  }
  std::size_t closed = 0;
  if (close_sessions_) {
    std::set<std::string> gone;
    for (const auto& d : dropped) gone.insert(d.first);
    closed = close_sessions_([this, &gone](const service::AuthContext& ctx) {
      return ctx.peer.kind == tls::PeerIdentity::Kind::psk && gone.count(key_for_identity(ctx.key_id, ctx.peer.transport)) != 0;
    });
  }
  spdlog::info("cse: {} revoked {} {} key(s); closed {} session(s)", source, dropped.size(), kind, closed);
  return dropped.size();
}

// apply_maf_entries: a MAF revoked a client (km: every Kc of that entity
// this MAF issued, held since before the revocation) or one Kc.
Status EntityB::apply_maf_entries(const Fqdn& maf, const std::vector<proto::RevocationEntry>& entries) {
  // One pass over the keys held per page, however many entries it has.
  std::map<std::string, std::int64_t> clients;  // revoked MAF client -> when
  std::set<std::string> kcs;                    // revoked KcIDs, canonical
  for (const proto::RevocationEntry& e : entries) {
    if (e.kind == "km") {
      auto& at = clients[e.entity_id];
      at = std::max(at, e.revoked_at);
    } else if (e.kind == "kc") {
      auto id = KeyId::parse(KeyIdKind::kc, e.key_id, cfg_.id_encoding);
      if (!id || !id->fqdn().matches(maf)) continue;  // only its own KcIDs
      kcs.insert(id->canonical());
      revoked_.put(id->canonical(), true);  // also if not held: a fetch racing this must not bring it back
    }
  }
  if (clients.empty() && kcs.empty()) return {};
  drop_keys(
      [&](const std::string& key, const CachedKey& k) {
        if (!k.from_maf || !Fqdn::parse(k.maf_fqdn)->matches(maf)) return false;
        if (kcs.count(key) != 0) return true;
        auto c = clients.find(k.entity_id);
        return c != clients.end() && k.held_since <= c->second;
      },
      "kc", "maf");
  return {};
}

// apply_mef_entries: a MEF ended enrolments whose Kpsa this CSE may hold.
Status EntityB::apply_mef_entries(const Fqdn& mef, const std::vector<proto::RevocationEntry>& entries) {
  std::set<std::string> kpsas;
  for (const proto::RevocationEntry& e : entries) {
    if (e.kind != "ke") continue;
    // A B-TID (GBA-based SAEF): its Kpsa is held per transport.
    if (auto b_tid = KeyId::parse(KeyIdKind::ke, e.key_id); e.kpsa_id.empty() && b_tid && b_tid->has_b_tid_form()) {
      for (tls::Transport t : {tls::Transport::tls, tls::Transport::dtls}) {
        const std::string key = gba_kpsa_key(*b_tid, t);
        kpsas.insert(key);
        revoked_.put(key, true);
      }
      continue;
    }
    if (e.kpsa_id.empty()) continue;
    auto id = KeyId::parse(KeyIdKind::kpsa, e.kpsa_id);
    if (!id) continue;
    kpsas.insert(id->canonical());
    revoked_.put(id->canonical(), true);
  }
  if (kpsas.empty()) return {};
  drop_keys(
      [&](const std::string& key, const CachedKey& c) {
        return kpsas.count(key) != 0 && !c.from_maf && !c.mef_fqdn.empty() && Fqdn::parse(c.mef_fqdn)->matches(mef);
      },
      "kpsa", "mef");
  return {};
}

void EntityB::sync_revocations() {
  for (auto& f : feeds_) {
    if (Status st = f->poll(cfg_.link_timeout); !st) {
      spdlog::warn("cse: revocation feed of {} not read: {}", f->peer().fqdn, st.error().message());
    }
  }
}

// call sends |req| to a configured MAF or MEF over the role's link.
Result<proto::Response> EntityB::call(const PeerEntry& peer, Request req) {
  if (link_ == nullptr) return fail(Errc::connect_failed, "no link to the MAFs and MEFs");
  auto ep = service::parse_endpoint(peer.address);  // checked by load_cse_config
  if (!ep) return std::unexpected(ep.error());
  return link_->call(link::Peer{ep->host, ep->port, peer.fqdn}, std::move(req));
}

KeyStats EntityB::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// fetch_kc: 8.2.2.3 "Entity B (Infrastructure Node) can retrieve the M2M
// Secure Connection Key (Kc) from the MAF", by MAF Key Retrieval (8.8.2.8)
// with its CSE-ID certificate.
Result<SecretBytes> EntityB::fetch_kc(const KeyId& kc_id, const PeerEntry& maf, std::int64_t now) {
  Request req;
  req.op = proto::Operation::retrieve;
  req.to = key_target(kc_id);
  req.from = cfg_.cse_id;
  auto rsp = call(maf, std::move(req));
  if (!rsp) {
    spdlog::warn("cse: MAF {} unreachable: {}", kc_id.fqdn().str(), rsp.error().message());
    return fail(Errc::connect_failed, "MAF unreachable");
  }
  if (auto st = proto::expect_success(*rsp); !st) {
    spdlog::info("cse: MAF refused {}: {}", kc_id.str(), st.error().detail());
    service::audit_refusal(audit_, "kc", kc_id.str(), "", "issuer_refused");
    return fail(Errc::unknown_psk_identity, "MAF refused the KcID");
  }
  auto k = proto::MafKeyRetrieveResponse::from_json(rsp->content);
  if (!k) return std::unexpected(k.error());
  if (k->expiration <= now) return fail(Errc::key_expired, "Kc has expired");
  CachedKey entry{k->key.clone(), k->source_id, k->expiration, true, kc_id.fqdn().str(), std::string(kc_id.relative()), 0};
  entry.held_since = now;
  {
    std::lock_guard lock(mu_);
    ++stats_.maf_fetches;
    // A fetch that raced with a revocation must not bring the key back.
    if (revoked_.find(kc_id.canonical())) return fail(Errc::unknown_psk_identity, "Kc revoked");
    // Two first handshakes with the same KcID may both fetch: keep the
    // count of sessions already open on the entry, or the first of them to
    // end would drop Kc (and the other session's identity) too early.
    if (auto it = keys_.find(kc_id.canonical()); it != keys_.end()) {
      // A fetch that raced with the end of the key's last connection must
      // not bring it back.
      if (it->second.ended) return fail(Errc::unknown_psk_identity, "connection key ended");
      entry.sessions = it->second.sessions;
    }
    keys_[kc_id.canonical()] = std::move(entry);
  }
  spdlog::info("cse: retrieved {} for {} from MAF", kc_id.str(), k->source_id);
  service::audit_grant(audit_, "kc", kc_id.str(), k->source_id, "maf", k->expiration);
  return std::move(k->key);
}

// fetch_kpsa: 8.3.2.1 "Use of Remotely Provisioned Credential", with the
// Enrolee B (this CSE) as the Enrolment Target.
//
// GBA-based SAEF (8.3.2.3): a device presenting a B-TID uses Kpsa =
// Ks_NAF with this CSE as the NAF; the request names the Ua security
// protocol identifier of its session ("?ua=", Zn).
Result<SecretBytes> EntityB::fetch_kpsa(const KeyId& kpsa_id, const PeerEntry& mef, std::int64_t now,
                                        const std::string& key, std::optional<tls::Transport> gba) {
  Request req;
  req.op = proto::Operation::retrieve;
  req.to = proto::fetch_credentials_path(kpsa_id.str(), proto::kSuidKpsa, gba);
  req.from = cfg_.cse_id;
  auto rsp = call(mef, std::move(req));
  if (!rsp) {
    spdlog::warn("cse: MEF {} unreachable: {}", kpsa_id.fqdn().str(), rsp.error().message());
    return fail(Errc::connect_failed, "MEF unreachable");
  }
  if (auto st = proto::expect_success(*rsp); !st) {
    service::audit_refusal(audit_, "kpsa", kpsa_id.str(), "", "issuer_refused");
    return fail(Errc::unknown_psk_identity, "MEF refused the KpsaID");
  }
  auto c = proto::CredentialResponse::from_json(rsp->content);
  if (!c) return std::unexpected(c.error());
  if (c->lifetime != 0 && c->lifetime <= now) return fail(Errc::key_expired, "Kpsa has expired");
  CachedKey entry{c->key.clone(), c->enrolee_id, c->lifetime, false, "", "", 0};
  entry.held_since = now;
  entry.mef_fqdn = kpsa_id.fqdn().str();
  {
    std::lock_guard lock(mu_);
    ++stats_.mef_fetches;
    if (revoked_.find(key)) return fail(Errc::unknown_psk_identity, "Kpsa revoked");
    keys_[key] = std::move(entry);
  }
  service::audit_grant(audit_, "kpsa", kpsa_id.str(), c->enrolee_id, "rsp", c->lifetime);
  return std::move(c->key);
}

void EntityB::psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
  const std::int64_t now = service::now_unix();
  auto kc_id = KeyId::parse(KeyIdKind::kc, req.identity, cfg_.id_encoding);
  const PeerEntry* maf = kc_id ? find_peer(cfg_.mafs, kc_id->fqdn()) : nullptr;
  Result<KeyId> kpsa_id = fail(Errc::invalid_identifier);
  if (maf == nullptr) kpsa_id = KeyId::parse(KeyIdKind::kpsa, req.identity);
  // A B-TID (GBA-based SAEF) is neither a KcID of a MAF nor a KpsaID.
  Result<KeyId> b_tid = fail(Errc::invalid_identifier);
  if (maf == nullptr && !kpsa_id) b_tid = KeyId::parse(KeyIdKind::ke, req.identity);
  if (b_tid && !b_tid->has_b_tid_form()) b_tid = fail(Errc::invalid_identifier);
  const std::string key = key_for_identity(req.identity, req.transport);
  if (key.empty()) {
    std::lock_guard lock(mu_);
    ++stats_.refusals;
    return done(fail(Errc::unknown_psk_identity, "neither a KcID of a known MAF, a KpsaID nor a B-TID"));
  }
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end()) {
      // 8.2.2.3: once Kc has expired, Entity B fails the handshake.
      if (it->second.expires_at != 0 && it->second.expires_at <= now) {
        ++stats_.refusals;
        if (it->second.sessions == 0) keys_.erase(it);
        return done(fail(Errc::key_expired, req.identity));
      }
      // Seed 000: a Kc whose connection ended is dead, even if replayed
      // before the MAF has deleted it.
      if (it->second.ended) {
        ++stats_.refusals;
        return done(fail(Errc::unknown_psk_identity, "connection key ended"));
      }
      ++stats_.cache_hits;
      return done(it->second.key.clone());
    }
  }
  if (auto why = refused_.find(key)) {
    std::lock_guard lock(mu_);
    ++stats_.refusals;
    ++stats_.negative_hits;
    return done(fail(why->code(), "refused recently"));
  }
  if (maf) return fetch_once(key, [this, id = *kc_id, maf, now] { return fetch_kc(id, *maf, now); }, std::move(done));
  const KeyId& id = kpsa_id ? *kpsa_id : *b_tid;
  const PeerEntry* mef = find_peer(cfg_.mefs, id.fqdn());
  if (mef == nullptr) {
    std::lock_guard lock(mu_);
    ++stats_.refusals;
    return done(fail(Errc::unknown_psk_identity, "unknown KpsaID"));
  }
  std::optional<tls::Transport> gba;
  if (!kpsa_id) gba = req.transport;
  fetch_once(key, [this, id, mef, now, key, gba] { return fetch_kpsa(id, *mef, now, key, gba); }, std::move(done));
}

// fetch_once: concurrent handshakes with the same unknown key identifier
// cause one fetch; all of them get its result. A refusal by the issuer is
// remembered for a short time, a transport failure is not.
void EntityB::fetch_once(const std::string& key, std::function<Result<SecretBytes>()> fetch,
                         std::function<void(Result<SecretBytes>)> done) {
  auto waiter = [done = std::move(done)](const Result<SecretBytes>& r) {
    if (!r) return done(std::unexpected(r.error()));
    done(r->clone());
  };
  if (!fetches_.join(key, std::move(waiter))) {
    std::lock_guard lock(mu_);
    ++stats_.joined;
    return;
  }
  pool_.post([this, key, fetch = std::move(fetch)] {
    Result<SecretBytes> r = fail(Errc::connect_failed, "key fetch failed");
    try {
      // A fetch that finished between the cache miss and join stored the key.
      std::optional<SecretBytes> held;
      {
        std::lock_guard lock(mu_);
        auto it = keys_.find(key);
        if (it != keys_.end() && !it->second.ended &&
            (it->second.expires_at == 0 || it->second.expires_at > service::now_unix())) {
          held = it->second.key.clone();
        }
      }
      r = held ? Result<SecretBytes>(std::move(*held)) : fetch();
    } catch (const std::exception& e) {
      spdlog::error("cse: key fetch failed: {}", printable(e.what()));
    }
    if (r) {
      refused_.erase(key);
    } else if (is_refusal(r.error())) {
      refused_.add(key, r.error());
    }
    if (!r) {
      std::lock_guard lock(mu_);
      ++stats_.refusals;
    }
    fetches_.finish(key, r);
  });
}

Result<std::string> EntityB::bound_entity(const tls::PeerIdentity& peer) {
  // Certificate SAEF (8.1.2.5): Entity A's certificate is vouched for by
  // a device anchor; a MAF's (infrastructure) certificate binds nothing.
  if (peer.kind == tls::PeerIdentity::Kind::certificate) {
    return service::peer_entity_id(peer, cfg_.sp_domain, tls::AnchorRole::device);
  }
  if (peer.kind != tls::PeerIdentity::Kind::psk) return fail(Errc::not_found, "unauthenticated peer");
  const std::string key = key_for_identity(peer.psk_identity, peer.transport);
  std::lock_guard lock(mu_);
  auto it = keys_.find(key);
  if (key.empty() || it == keys_.end() || it->second.ended) return fail(Errc::not_found, "no key for the session");
  return it->second.entity_id;
}

// on_session_start binds the session to Entity A's CSE-ID/AE-ID (from the
// certificate, or the key Entity B holds for the PSK identity) and counts
// the session on its Kc, so that the key is dropped only with the last one.
void EntityB::on_session_start(service::AuthContext& ctx) {
  if (ctx.peer.kind != tls::PeerIdentity::Kind::psk) {
    if (auto entity = bound_entity(ctx.peer); entity) ctx.entity_id = *entity;
    return;
  }
  const std::string key = key_for_identity(ctx.peer.psk_identity, ctx.peer.transport);
  std::lock_guard lock(mu_);
  auto it = keys_.find(key);
  // A key whose last connection ended between this handshake and now is
  // dead: the session stays unbound and every request on it is refused.
  if (key.empty() || it == keys_.end() || it->second.ended) return;
  ctx.entity_id = it->second.entity_id;
  // The listener closes the session when its key expires.
  if (it->second.expires_at != 0) ctx.key_expires_at = it->second.expires_at;
  if (it->second.from_maf) ++it->second.sessions;
}

// Seed 000: "M2M Connection Key shall expire upon termination of the
// corresponding Service Connection." Entity B drops Kc and asks the MAF to
// de-register it (8.8.2.10).
void EntityB::on_session_end(const service::AuthContext& ctx) {
  const tls::PeerIdentity& peer = ctx.peer;
  if (peer.kind != tls::PeerIdentity::Kind::psk) return;
  auto kc_id = KeyId::parse(KeyIdKind::kc, peer.psk_identity, cfg_.id_encoding);
  if (!kc_id) return;
  const PeerEntry* maf = find_peer(cfg_.mafs, kc_id->fqdn());
  if (maf == nullptr) return;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(kc_id->canonical());
    if (it == keys_.end() || !it->second.from_maf || it->second.ended) return;
    if (--it->second.sessions > 0) return;
    // Tombstone first: from this moment the KcID is refused here, and no
    // lookup can fetch it from the MAF before the MAF has deleted it.
    it->second.ended = true;
    it->second.key = SecretBytes();
  }
  deregister(std::move(*kc_id), *maf);
}

void EntityB::deregister(KeyId kc_id, const PeerEntry& maf) {
  {
    std::lock_guard lock(dereg_mu_);
    DeregLane& lane = dereg_[maf.fqdn];
    lane.queue.push_back(std::move(kc_id));
    if (lane.busy) return;  // the request in flight takes it next
    lane.busy = true;
  }
  pool_.post([this, &maf] {
    try {
      drain_deregistrations(maf);
    } catch (...) {
      // The pool logs and drops the job; the lane must not stay busy, or
      // no later key would be de-registered. The next key restarts it.
      std::lock_guard lock(dereg_mu_);
      dereg_[maf.fqdn].busy = false;
      throw;
    }
  });
}

void EntityB::drain_deregistrations(const PeerEntry& maf) {
  while (true) {
    std::vector<KeyId> ids;
    bool batches = true;
    {
      std::lock_guard lock(dereg_mu_);
      DeregLane& lane = dereg_[maf.fqdn];
      if (lane.queue.empty()) {
        lane.busy = false;
        return;
      }
      const auto n = static_cast<std::ptrdiff_t>(std::min(lane.queue.size(), proto::kMaxDeregBatch));
      ids.assign(std::make_move_iterator(lane.queue.begin()), std::make_move_iterator(lane.queue.begin() + n));
      lane.queue.erase(lane.queue.begin(), lane.queue.begin() + n);
      batches = lane.batches;
    }
    if (ids.size() == 1 || !batches) {
      deregister_each(ids, maf);
      continue;
    }
    proto::MafKeyDeregBatch body;
    body.holder = holder_;
    for (const KeyId& id : ids) body.relative_ids.emplace_back(id.relative());
    Request req;
    req.op = proto::Operation::create;
    req.to = std::string(proto::kMafKeyDeregPath);
    req.ty = proto::kTyMafKeyDereg;
    req.from = cfg_.cse_id;
    req.content = body.to_json();
    auto rsp = call(maf, std::move(req));
    count_dereg_request();
    if (rsp && (rsp->rsc == Rsc::bad_request || rsp->rsc == Rsc::not_found || rsp->rsc == Rsc::operation_not_allowed)) {
      // A MAF that knows no batches: these keys, and all later ones, one
      // DELETE each.
      spdlog::info("cse: MAF {} does not take de-registration batches ({}); de-registering one key per request",
                   maf.fqdn, static_cast<int>(rsp->rsc));
      {
        std::lock_guard lock(dereg_mu_);
        dereg_[maf.fqdn].batches = false;
      }
      deregister_each(ids, maf);
      continue;
    }
    // One code per key, or nothing is known of any of them.
    std::vector<int> codes;
    if (rsp && rsp->rsc == Rsc::ok) {
      if (auto results = proto::MafKeyDeregResults::from_json(rsp->content); results && results->rsc.size() == ids.size()) {
        codes = std::move(results->rsc);
      }
    }
    if (codes.empty() && rsp) {
      spdlog::info("cse: MAF {} answered a de-registration batch with {} and no result per key", maf.fqdn,
                   static_cast<int>(rsp->rsc));
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      deregistered(ids[i], !codes.empty() && gone_at_maf(static_cast<Rsc>(codes[i])));
    }
  }
}

void EntityB::deregister_each(const std::vector<KeyId>& ids, const PeerEntry& maf) {
  for (const KeyId& id : ids) {
    Request req;
    req.op = proto::Operation::del;
    req.to = key_target(id);
    req.from = cfg_.cse_id;
    auto rsp = call(maf, std::move(req));
    count_dereg_request();
    deregistered(id, rsp && gone_at_maf(rsp->rsc));
  }
}

// gone_at_maf: 2002, or 4004 (already gone: expired and purged, or
// deleted by its source): the MAF no longer holds the key.
bool EntityB::gone_at_maf(Rsc rsc) { return proto::is_success(rsc) || rsc == Rsc::not_found; }

// |gone|: the tombstone can go; the negative cache answers replays for a
// while, the MAF after that.
void EntityB::deregistered(const KeyId& id, bool gone) {
  if (!gone) {
    // Keep the tombstone until the key expires: the MAF may still hold it.
    spdlog::info("cse: could not de-register {} at the MAF; refusing it here until it expires", id.str());
    return;
  }
  refused_.add(id.canonical(), Error(Errc::unknown_psk_identity, "connection key ended"));
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(id.canonical());
    if (it != keys_.end() && it->second.ended) keys_.erase(it);
    ++stats_.deregistered;
  }
  spdlog::info("cse: connection ended; dropped and de-registered {}", id.str());
}

void EntityB::count_dereg_request() {
  std::lock_guard lock(mu_);
  ++stats_.dereg_requests;
}

bool EntityB::is_hosting_cse(std::string_view entity) const {
  // One ID in any of its forms (TS-0003 table 7.1.3-2), as the policies
  // compare it.
  const auto abs = authz::absolute_id(entity, cfg_.cse_id, cfg_.sp_domain);
  return abs && abs == authz::absolute_id(cfg_.cse_id, cfg_.cse_id, cfg_.sp_domain);
}

void EntityB::handle(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  if (req.to == proto::kCseMafKeysPath) return accept_push(ctx, req, service::audit_refusals(audit_, *ctx, req, std::move(reply)));
  const std::string& entity = ctx->entity_id;
  if (entity.empty()) {
    return reply(proto::error_response(req, Rsc::security_association_required, "no authenticated identity"));
  }
  // TS-0003 7.2.1: the originator must be the authenticated entity.
  if (req.from != entity) {
    spdlog::warn("cse: refused request from '{}' on a session of {}", printable(req.from), entity);
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin does not match the authenticated identity"));
  }
  // The hosting CSE's own identity is nobody's to claim from outside: its
  // policies (the CSEBase's selfPrivileges) name it.
  if (is_hosting_cse(entity)) {
    spdlog::warn("cse: refused a session bound to this CSE's own CSE-ID {}", printable(entity));
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "the hosting CSE's ID is not a device's"));
  }
  if (!next_) return reply(proto::error_response(req, Rsc::not_implemented, "no CSE behind this acceptor"));
  // Every session is authenticated by a security association here
  // (TS-0003 7.1.2 rq_authn); the address is the peer's.
  cse::Originator from{entity, true, std::nullopt};
  if (!ctx->peer.address.empty()) from.ip = ctx->peer.address;
  next_(from, req, std::move(reply));
}

// accept_push: MAF Key Push (docs/protocol.md), an m2msec extension. A MAF
// that registered a Kc naming this CSE as target hands it over, so that
// Entity A's first handshake needs no MAF Key Retrieval (8.8.2.8). Only a
// configured MAF, authenticated by its certificate, may push, and only
// keys of its own KcIDs.
void EntityB::accept_push(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  if (req.op != proto::Operation::create) {
    return reply(proto::error_response(req, Rsc::operation_not_allowed, "only CREATE on /mafKeys"));
  }
  const PeerEntry* maf = nullptr;
  // Issue 11 item 3: a MAF is infrastructure; a device CA naming the MAF
  // pushes nothing.
  if (ctx->peer.kind == tls::PeerIdentity::Kind::certificate) {
    if (Status st = service::check_anchor_role(ctx->peer, tls::AnchorRole::infrastructure); !st) {
      spdlog::warn("cse: refused a key push by {}: {}", printable(req.from), st.error().detail());
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                         "key push needs a certificate from an infrastructure trust anchor"));
    }
    for (const PeerEntry& p : cfg_.mafs) {
      if (service::peer_has_fqdn(ctx->peer, p.fqdn, tls::AnchorRole::infrastructure)) maf = &p;
    }
  }
  if (maf == nullptr) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "only a configured MAF may push keys"));
  }
  const Fqdn maf_fqdn = *Fqdn::parse(maf->fqdn);
  auto origin = Fqdn::parse(req.from);
  if (!origin || !origin->matches(maf_fqdn)) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin is not the authenticated MAF-FQDN"));
  }
  // A request counts once it carried at least one key Entity B took
  // (KeyStats::push_requests beside KeyStats::pushed).
  auto count_request = [this] {
    std::lock_guard lock(mu_);
    ++stats_.push_requests;
  };
  if (req.content.is_object() && req.content.contains("sec:mkb")) {
    auto batch = proto::MafKeyPushBatch::from_json(req.content);
    if (!batch) return reply(proto::error_response(req, Rsc::bad_request, batch.error().message()));
    const std::int64_t now = service::now_unix();
    proto::MafKeyPushResults results;
    results.rsc.reserve(batch->keys.size());
    for (const proto::MafKeyPush& k : batch->keys) {
      std::string why;
      const Rsc rsc = take_pushed_key(k, maf_fqdn, now, why);
      results.rsc.push_back(static_cast<int>(rsc));
      if (rsc != Rsc::created) {
        spdlog::info("cse: refused the push of {} by {}: {}", printable(k.kc_id), maf_fqdn.str(), printable(why));
        service::audit_refusal(audit_, "kc", k.kc_id, maf_fqdn.str(), why);
      }
    }
    if (std::ranges::count(results.rsc, static_cast<int>(Rsc::created)) > 0) count_request();
    return reply(proto::ok_response(req, Rsc::ok, results.to_json()));
  }
  auto body = proto::MafKeyPush::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  std::string why;
  const Rsc rsc = take_pushed_key(*body, maf_fqdn, service::now_unix(), why);
  if (rsc != Rsc::created) return reply(proto::error_response(req, rsc, why));
  count_request();
  reply(proto::ok_response(req, Rsc::created, nullptr));
}

// take_pushed_key holds one pushed Kc of |maf|: Rsc::created, or the
// refusal's code with its reason in |why|.
Rsc EntityB::take_pushed_key(const proto::MafKeyPush& body, const Fqdn& maf, std::int64_t now, std::string& why) {
  auto refuse = [&why](Rsc rsc, std::string text) {
    why = std::move(text);
    return rsc;
  };
  auto kc_id = KeyId::parse(KeyIdKind::kc, body.kc_id, cfg_.id_encoding);
  if (!kc_id) return refuse(Rsc::bad_request, kc_id.error().message());
  if (!kc_id->fqdn().matches(maf)) return refuse(Rsc::originator_has_no_privilege, "KcID of another MAF");
  if (body.suid != proto::kSuidMafSaef) {
    return refuse(Rsc::bad_request, "SUID must be " + std::to_string(proto::kSuidMafSaef));
  }
  if (body.key.size() != 32) return refuse(Rsc::bad_request, "Kc must be 32 bytes");
  if (!EntityId::parse(body.source_id)) return refuse(Rsc::bad_request, "sid is not a CSE-ID or AE-ID");
  if (body.expiration <= now) return refuse(Rsc::bad_request, "Kc has expired");
  const std::string key = kc_id->canonical();
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end() && (!it->second.from_maf || it->second.ended)) {
      return refuse(Rsc::conflict, "key identifier is taken");
    }
    if (it == keys_.end() && keys_.size() >= kMaxHeldKeys) {
      // Make room from keys no session uses any more and that expired.
      std::erase_if(keys_, [now](const auto& kv) {
        return kv.second.from_maf && kv.second.sessions == 0 && kv.second.expires_at <= now;
      });
      if (keys_.size() >= kMaxHeldKeys) return refuse(Rsc::not_implemented, "key table full; retrieve instead");
    }
    if (revoked_.find(key)) return refuse(Rsc::originator_has_no_privilege, "KcID revoked");
    CachedKey entry{body.key.clone(), body.source_id, body.expiration, true, maf.str(),
                    std::string(kc_id->relative()), it != keys_.end() ? it->second.sessions : 0};
    entry.held_since = now;
    keys_[key] = std::move(entry);
    ++stats_.pushed;
  }
  refused_.erase(key);
  spdlog::info("cse: MAF {} pushed {} for {}", maf.str(), kc_id->str(), printable(body.source_id));
  service::audit_grant(audit_, "kc", kc_id->str(), body.source_id, "maf", body.expiration);
  return Rsc::created;
}

Next upstream_cse(UpstreamSettings upstream, service::WorkerPool& pool) {
  auto u = std::make_shared<const UpstreamSettings>(std::move(upstream));
  return [u, &pool](const cse::Originator& from, const Request& req, proto::Reply reply) {
    pool.post([u, from, req, reply = std::move(reply)]() mutable {
      Request fwd = req;
      fwd.from = from.id;  // the authenticated identity, never the device's claim
      if (fwd.rqi.empty()) fwd.rqi = "m2msec-gw";
      auto rsp = service::plain_http_call(u->address, u->host, fwd, u->timeout);
      if (!rsp) {
        spdlog::warn("cse: upstream CSE {} did not answer: {}", u->address, rsp.error().message());
        return reply(proto::error_response(req, Rsc::target_not_reachable, "upstream CSE unreachable"));
      }
      rsp->rqi = req.rqi;
      reply(std::move(*rsp));
    });
  };
}

service::ServiceHandler trusted_gateway(Next next) {
  return [next = std::move(next)](const service::AuthRef&, const Request& req, proto::Reply reply) {
    if (!EntityId::parse(req.from)) {
      return reply(proto::error_response(req, Rsc::bad_request, "X-M2M-Origin is not a CSE-ID or AE-ID"));
    }
    // The gateway authenticated the originator (docs/cse.md); its address
    // is not known here.
    next(cse::Originator{req.from, true, std::nullopt}, req, std::move(reply));
  };
}

Next local_cse(cse::Cse& cse, service::WorkerPool& pool) {
  return [&cse, &pool](const cse::Originator& from, const Request& req, proto::Reply reply) {
    pool.post([&cse, from, req, reply = std::move(reply)]() mutable {
      reply(cse.handle(from, req, service::now_unix()));
    });
  };
}

}  // namespace m2msec::entityb
