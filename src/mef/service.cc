#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/crypto/gba.h"
#include "m2msec/mef/mef.h"
#include "m2msec/proto/messages.h"
#include "m2msec/service/role_store.h"

namespace m2msec::mef {
namespace {

using proto::Request;
using proto::Rsc;

bool iequal(std::string_view a, std::string_view b) {
  auto fa = Fqdn::parse(a), fb = Fqdn::parse(b);
  return fa && fb && fa->matches(*fb);
}

// refusal maps a store lookup error onto the oneM2M answer the peer sees.
proto::Response refusal(const Request& req, const Error& err, std::string_view what) {
  return service::store_refusal(req, err, what, "mef");
}

// credential_names lists the names an authenticated peer can be known by:
// its PSK identity, or its certificate's URIs and dNSNames.
std::vector<std::string> credential_names(const tls::PeerIdentity& p) {
  if (p.kind == tls::PeerIdentity::Kind::psk) return {p.psk_identity};
  std::vector<std::string> out = p.san_uris;
  out.insert(out.end(), p.dns_names.begin(), p.dns_names.end());
  return out;
}

}  // namespace

MefService::MefService(MefConfig cfg, store::Store& store, service::WorkerPool& pool)
    : cfg_(std::move(cfg)), fqdn_(*Fqdn::parse(cfg_.listen.fqdn)), store_(store), pool_(pool) {
  if (cfg_.bsf.enabled) {
    subscribers_ = std::make_unique<StoreSubscribers>(store_, pool_);
    bsf_ = std::make_unique<Bsf>(cfg_.bsf, fqdn_, *subscribers_, store_, pool_);
  }
}

void MefService::psk_lookup(const tls::PskRequest& req, std::function<void(Result<SecretBytes>)> done) {
  pool_.post([this, identity = req.identity, done = std::move(done)] {
    auto e = store_.mef().find_enrolee_by_kpm_id(identity, service::now_unix());
    if (!e || e->kpm.empty()) {
      spdlog::info("mef: refused PSK identity '{}': {}", printable(identity), e ? "no Kpm" : e.error().message());
      return done(fail(Errc::unknown_psk_identity, identity));
    }
    SecretBytes kpm = e->kpm.clone();
    e->kpm = SecretBytes();  // the cache needs the enrolee, not its Kpm
    enrolees_.put(identity, std::make_shared<const store::Enrolee>(std::move(*e)));
    done(std::move(kpm));
  });
}

void MefService::handle(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  if (req.plain) {
    if (bsf_) return bsf_->handle(ctx, req, std::move(reply));
    auto r = std::make_shared<proto::PlainHttpResponse>();
    r->status = 400;
    proto::Response rsp;
    rsp.plain = std::move(r);
    return reply(std::move(rsp));
  }
  reply = service::audit_refusals(audit_, *ctx, req, std::move(reply));
  if (req.to == proto::kMefPath) {
    if (req.op != proto::Operation::create || req.ty != proto::kTyEnrolment) {
      return reply(proto::error_response(req, Rsc::operation_not_allowed, "only CREATE sec:enr on /mef"));
    }
    return enrol(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMefFetchPrefix)) {
    if (req.op != proto::Operation::retrieve) {
      return reply(proto::error_response(req, Rsc::operation_not_allowed, "only RETRIEVE on fetchCredentials"));
    }
    return fetch(ctx, req, std::move(reply));
  }
  if (req.to == proto::kMefFetchBatchPath) {
    if (req.op != proto::Operation::create || req.ty != proto::kTyCredentialFetch) {
      return reply(proto::error_response(req, Rsc::operation_not_allowed, "only CREATE sec:fcb on credentialFetches"));
    }
    return fetch_batch(ctx, req, std::move(reply));
  }
  if (req.to.starts_with(proto::kMefRevocationsPrefix)) {
    if (req.op != proto::Operation::retrieve) {
      return reply(proto::error_response(req, Rsc::operation_not_allowed, "only RETRIEVE on revocations"));
    }
    return revocations(ctx, req, std::move(reply));
  }
  reply(proto::error_response(req, Rsc::not_found, "no such resource"));
}

// revocations serves the MEF's revocation feed (docs/protocol.md
// "Revocation feed") to the holders of keys derived from Ke: a MAF
// (authenticated by its FQDN, the holder of Km) or an Enrolee B
// (authenticated by its CSE-ID, the holder of Kpsa). Each sees only the
// entries that name it.
void MefService::revocations(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  const tls::PeerIdentity& peer = ctx->peer;
  if (peer.kind != tls::PeerIdentity::Kind::certificate) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege, "the feed needs a certificate"));
  }
  std::string holder;
  if (auto fqdn = Fqdn::parse(req.from);
      fqdn && service::peer_has_fqdn(peer, req.from, tls::AnchorRole::infrastructure)) {
    holder = fqdn->str();
    std::transform(holder.begin(), holder.end(), holder.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  } else if (auto who = service::peer_entity_id(peer, cfg_.sp_domain, tls::AnchorRole::infrastructure);
             who && *who == req.from) {
    holder = *who;
  } else {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin is not the authenticated MAF-FQDN or CSE-ID"));
  }
  pool_.post([this, req, holder, reply = std::move(reply)] {
    reply(service::revocation_feed(req, proto::kMefRevocationsPrefix, store_.revocations(), holder, "mef"));
  });
}

// Seed 002, "Bootstrap Enrolment Exchange": "The Enrolee provides the M2M
// Authentication Function Identity (IdMAF) to the M2M Enrolment Function.
// The M2M Enrolment Function provides the Enrolee Identity (IdEnrolee)
// that the Enrolee is to use with the identified M2M Authentication
// Function." Ke and RelativeKeID come from the exporter (10.3.1).
void MefService::enrol(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  const std::vector<std::string> names = credential_names(ctx->peer);
  if (names.empty()) {
    return reply(proto::error_response(req, Rsc::security_association_required, "enrolee is not authenticated"));
  }
  // Issue 11 item 3: an enrolee certificate is vouched for by a device
  // anchor; an infrastructure CA does not enrol devices.
  if (ctx->peer.kind == tls::PeerIdentity::Kind::certificate) {
    if (Status st = service::check_anchor_role(ctx->peer, tls::AnchorRole::device); !st) {
      spdlog::warn("mef: refused enrolment by certificate: {}", st.error().detail());
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                         "enrolee certificate is not from a device trust anchor"));
    }
  }
  if (std::find(names.begin(), names.end(), req.from) == names.end()) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "X-M2M-Origin must be the enrolee's credential identity"));
  }
  auto body = proto::EnrolRequest::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  if (ctx->exported.size() != crypto::kExportedSize) {
    return reply(proto::error_response(req, Rsc::internal_server_error, "key export failed"));
  }

  // A PSK handshake has just read the enrolee: enrol without a worker.
  if (ctx->peer.kind == tls::PeerIdentity::Kind::psk) {
    if (auto hit = enrolees_.find(ctx->peer.psk_identity)) {
      const std::int64_t now = service::now_unix();
      if (!(*hit)->expires_at || *(*hit)->expires_at > now) return enrol_as(*ctx, req, *body, **hit, std::move(reply));
    }
  }
  pool_.post([this, req, ctx, names, request = std::move(*body), reply = std::move(reply)]() mutable {
    const tls::PeerIdentity& peer = ctx->peer;
    const std::int64_t now = service::now_unix();
    Result<store::Enrolee> enrolee = fail(Errc::not_found);
    if (peer.kind == tls::PeerIdentity::Kind::psk) enrolee = store_.mef().find_enrolee_by_kpm_id(peer.psk_identity, now);
    for (std::size_t i = 0; peer.kind == tls::PeerIdentity::Kind::certificate && !enrolee && i < names.size(); ++i) {
      enrolee = store_.mef().find_enrolee_by_cert_subject(names[i], now);
    }
    if (!enrolee) return reply(refusal(req, enrolee.error(), "enrolee"));
    enrol_as(*ctx, req, request, *enrolee, std::move(reply));
  });
}

void MefService::enrol_as(const service::AuthContext& ctx, const Request& req, const proto::EnrolRequest& request,
                          const store::Enrolee& e, proto::Reply reply) {
  const tls::PeerIdentity& peer = ctx.peer;
  const std::int64_t now = service::now_unix();
  const store::Enrolee* enrolee = &e;
  // Seed 002: the MEF verifies the enrolee "against the Enrolee
  // Certificate Name and Enrolee Root of Trust" configured for it. The
  // root of trust is named by its certificate's fingerprint, never by its
  // CN (any CA can be given any CN); a legacy CN-form row never matches.
  // enrol() already required a device anchor, so the anchor named here is
  // one of the MEF's device_trust_anchors.
  if (peer.kind == tls::PeerIdentity::Kind::certificate &&
      (peer.anchor_role != tls::AnchorRole::device || !enrolee->cert_trust_anchor ||
       !tls::is_certificate_fingerprint(*enrolee->cert_trust_anchor) ||
       *enrolee->cert_trust_anchor != peer.trust_anchor)) {
    spdlog::warn("mef: {} presented a certificate from {} ('{}'), not its root of trust '{}'", enrolee->enrolee_id,
                 peer.trust_anchor, printable(peer.trust_anchor_cn), printable(enrolee->cert_trust_anchor.value_or("")));
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "certificate is not from the enrolee's configured root of trust"));
  }
  if (enrolee->target_kind == store::TargetKind::maf && !request.maf_id.empty() &&
      !iequal(request.maf_id, enrolee->target)) {
    return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                       "enrolee is not configured for MAF " + request.maf_id));
  }
  auto parts = crypto::split_exported(ctx.exported.view());
  if (!parts) return reply(proto::error_response(req, Rsc::internal_server_error, "key export failed"));
  auto ke_id = KeyId::from_relative(KeyIdKind::ke, parts->relative_id, fqdn_, cfg_.id_encoding);

  // 10.7: keys derived from Ke do not outlive the enrolment expiry.
  std::int64_t expires = now + cfg_.default_lifetime;
  if (enrolee->expires_at && *enrolee->expires_at < expires) expires = *enrolee->expires_at;

  store::Enrolment row;
  row.ke_id = ke_id->canonical();
  row.enrolee_id = enrolee->enrolee_id;
  row.ke = parts->key.clone();
  row.expires_at = expires;
  proto::EnrolInstruction ins;
  ins.target = enrolee->target;
  ins.lifetime = expires;
  if (enrolee->target_kind == store::TargetKind::kpsa) {
    // KpsaID = hex(RelativeKeID)@MEF-FQDN: a 10.5 KpsaID whose issuer is
    // this MEF, so Enrolee B knows where to fetch Kpsa.
    auto kpsa = crypto::derive_kpsa(parts->key.view(), enrolee->target);
    if (!kpsa) return reply(proto::error_response(req, Rsc::internal_server_error, "Kpsa derivation failed"));
    const std::string kpsa_id = hex_encode(parts->relative_id) + "@" + fqdn_.str();
    row.kpsa_id = KeyId::parse(KeyIdKind::kpsa, kpsa_id)->canonical();
    row.kpsa = std::move(*kpsa);
    ins.kind = proto::EnrolInstruction::Kind::kpsa;
    ins.key_id = kpsa_id;
  } else {
    ins.kind = proto::EnrolInstruction::Kind::maf;
    ins.credential_type = "psk";
    std::string base = "https://" + enrolee->target;
    for (const MafEntry& m : cfg_.mafs) {
      if (iequal(m.fqdn, enrolee->target)) base = m.address.find("://") != std::string::npos ? m.address : "https://" + m.address;
    }
    ins.client_reg_uri = base + std::string(proto::kMafPath);
    ins.key_reg_uri = base + std::string(proto::kMafPath);
    ins.key_retrieval_uri = base + std::string(proto::kMafKeysPrefix);
    ins.key_id = ke_id->str();  // the enrolee presents KeID to the MAF (8.3.2.1 step b)
  }
  proto::EnrolResponse rsp;
  rsp.enrolee_id = enrolee->enrolee_id;
  rsp.ke_id = ke_id->str();
  rsp.expiry = expires;
  rsp.sp_domain = cfg_.sp_domain;
  rsp.instructions.push_back(std::move(ins));
  // The enrolment is durable before the response acknowledges it; a
  // repeated enrolment replaces the previous Ke atomically. The worker
  // does not wait for the commit: the answer leaves from the store's
  // completion, so commits group as many enrolments as are waiting.
  store_.mef().put_enrolment_async(
      row, now,
      [req, reply, body = rsp.to_json(), enrolee_id = enrolee->enrolee_id, audit = audit_, ke_text = ke_id->str(),
       kpsa_id = row.kpsa_id, expires,
       target = std::string(store::target_kind_name(enrolee->target_kind)) + " " + enrolee->target](Status st) {
        if (!st) return reply(refusal(req, st.error(), "enrolment"));
        spdlog::info("mef: enrolled {} as {} (target {})", printable(req.from), enrolee_id, target);
        service::audit_grant(audit, "ke", ke_text, enrolee_id, "rsp", expires);
        if (kpsa_id) service::audit_grant(audit, "kpsa", *kpsa_id, enrolee_id, "rsp", expires);
        reply(proto::ok_response(req, Rsc::created, body));
      });
}

namespace {

// certificate_refusal refuses a key retrieval unless the session is a
// certificate one from an infrastructure trust anchor.
std::optional<proto::Response> certificate_refusal(const tls::PeerIdentity& peer, const Request& req) {
  if (peer.kind != tls::PeerIdentity::Kind::certificate) {
    return proto::error_response(req, Rsc::originator_has_no_privilege, "key retrieval needs a certificate");
  }
  // Issue 11 item 3: only an infrastructure anchor vouches for a MAF or an
  // Enrolee B; a device CA naming the MAF gets nothing.
  if (Status st = service::check_anchor_role(peer, tls::AnchorRole::infrastructure); !st) {
    spdlog::warn("mef: refused key retrieval by {}: {}", printable(req.from), st.error().detail());
    return proto::error_response(req, Rsc::originator_has_no_privilege,
                                 "key retrieval needs a certificate from an infrastructure trust anchor");
  }
  return std::nullopt;
}

}  // namespace

std::optional<proto::Response> MefService::maf_refusal(const tls::PeerIdentity& peer, const Request& req) const {
  if (auto refused = certificate_refusal(peer, req)) return refused;
  if (!service::peer_has_fqdn(peer, req.from, tls::AnchorRole::infrastructure)) {
    return proto::error_response(req, Rsc::originator_has_no_privilege,
                                 "X-M2M-Origin is not the authenticated MAF-FQDN");
  }
  return std::nullopt;
}

proto::Response MefService::km_credential(const Request& req, const KeyId& ke_id,
                                          const std::optional<std::vector<std::uint8_t>>& ua, std::int64_t now) {
  const std::string key = ke_id.canonical();
  const std::string text = ke_id.str();
  auto enr = store_.mef().find_enrolment(key, now);
  // 8.3.2.3: in the GBA-based framework the KeID is a B-TID and Km its
  // Ks_NAF for this MAF.
  const bool b_tid = ke_id.has_b_tid_form() && ke_id.fqdn().matches(fqdn_);
  if (!enr && enr.error().code() == Errc::not_found && b_tid && ua) {
    return gba_credential(req, key, *ua, store::TargetKind::maf, now);
  }
  if (!enr) return refusal(req, enr.error(), "KeID");
  auto enrolee = store_.mef().get_enrolee(enr->enrolee_id);
  if (!enrolee) return refusal(req, enrolee.error(), "enrolee");
  if (enrolee->state != store::EnroleeState::active) return refusal(req, Error(Errc::not_found), "enrolee");
  if (enrolee->target_kind != store::TargetKind::maf || !iequal(enrolee->target, req.from)) {
    spdlog::warn("mef: MAF {} asked for {} whose target is {}", printable(req.from), text, enrolee->target);
    return proto::error_response(req, Rsc::originator_has_no_privilege, "requester is not the enrolee's MAF");
  }
  auto km = crypto::derive_km(enr->ke.view(), crypto::maf_id_for_km(req.from));
  if (!km) return proto::error_response(req, Rsc::internal_server_error, "Km derivation failed");
  std::int64_t lifetime = enr->expires_at;
  if (enrolee->expires_at && *enrolee->expires_at < lifetime) lifetime = *enrolee->expires_at;
  proto::CredentialResponse rsp{std::move(*km), enrolee->enrolee_id, lifetime, text};
  spdlog::info("mef: gave Km for {} ({}) to MAF {}", text, enrolee->enrolee_id, printable(req.from));
  service::audit_grant(audit_, "km", text, req.from, "rsp", lifetime, enrolee->enrolee_id);
  return proto::ok_response(req, Rsc::ok, rsp.to_json());
}

// A batch of Km retrievals (docs/protocol.md "Batches of Km fetches"):
// the session and From are checked once; each entry is then answered as
// its own RETRIEVE /mef/fetchCredentials/<KeID>/21[?ua=] would be, and
// audited so, all in one worker job.
void MefService::fetch_batch(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  if (auto refused = maf_refusal(ctx->peer, req)) return reply(std::move(*refused));
  auto body = proto::CredentialFetchBatch::from_json(req.content);
  if (!body) return reply(proto::error_response(req, Rsc::bad_request, body.error().message()));
  pool_.post([this, ctx, req, body = std::move(*body), reply = std::move(reply)] {
    const std::int64_t now = service::now_unix();
    proto::CredentialFetchResults results;
    results.entries.resize(body.entries.size());
    for (std::size_t i = 0; i < body.entries.size(); ++i) {
      const proto::CredentialFetchBatch::Entry& e = body.entries[i];
      Request one;  // what the entry's own RETRIEVE would have been, for its answer and the audit
      one.op = proto::Operation::retrieve;
      one.to = std::string(proto::kMefFetchPrefix) + proto::percent_encode(e.ke_id) + "/" +
               std::to_string(proto::kSuidMafKm) + (e.ua.empty() ? "" : "?" + std::string(proto::kUaQuery) + e.ua);
      one.from = req.from;
      one.rqi = req.rqi;
      proto::CredentialFetchResults::Entry& out = results.entries[i];
      proto::Reply each = service::audit_refusals(audit_, *ctx, one, [&out](proto::Response r) {
        out.rsc = static_cast<int>(r.rsc);
        out.content = std::move(r.content);
      });
      std::optional<std::vector<std::uint8_t>> ua;
      if (!e.ua.empty()) {
        auto bytes = hex_decode(e.ua);
        if (!bytes || !crypto::is_ua_security_protocol_id(*bytes)) {
          each(proto::error_response(one, Rsc::bad_request, "want ua=<Ua security protocol identifier in hex>"));
          continue;
        }
        ua = std::move(*bytes);
      }
      auto ke_id = KeyId::parse(KeyIdKind::ke, e.ke_id, cfg_.id_encoding);
      if (!ke_id) {
        each(proto::error_response(one, Rsc::bad_request, ke_id.error().message()));
        continue;
      }
      each(km_credential(one, *ke_id, ua, now));
    }
    reply(proto::ok_response(req, Rsc::ok, results.to_json()));
  });
}

// 8.3.2.1 step f): "a retrieve request to MEF with the target URI set to
// /fetchCredentials/<KeID>/<security-usage-identifier> ... The originator
// field ... contains the ID (AE-ID/CSE-ID/MAF-ID) of the Enrolment
// Target/MAF." m2msec derives Km from the MAF-ID of the authenticated
// requester (10.3.2), never from a name the request merely claims.
void MefService::fetch(const service::AuthRef& ctx, const Request& req, proto::Reply reply) {
  const tls::PeerIdentity& peer = ctx->peer;
  std::string_view target = req.to;
  // "?ua=<10 hex digits>": the Ua security protocol identifier of the
  // device's session with the requester, for a KeID that is a GBA B-TID
  // (Zn; docs/protocol.md). Only the two m2msec defines are accepted.
  std::optional<std::vector<std::uint8_t>> ua;
  if (const std::size_t q = target.find('?'); q != std::string_view::npos) {
    const std::string_view query = target.substr(q + 1);
    target = target.substr(0, q);
    auto bytes = query.starts_with(proto::kUaQuery) ? hex_decode(query.substr(proto::kUaQuery.size()))
                                                    : Result<std::vector<std::uint8_t>>(fail(Errc::invalid_argument));
    if (!bytes || !crypto::is_ua_security_protocol_id(*bytes)) {
      return reply(proto::error_response(req, Rsc::bad_request, "want ?ua=<Ua security protocol identifier in hex>"));
    }
    ua = std::move(*bytes);
  }
  const std::string_view rest = target.substr(proto::kMefFetchPrefix.size());
  const std::size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) {
    return reply(proto::error_response(req, Rsc::bad_request, "want /mef/fetchCredentials/<KeID>/<SUID>"));
  }
  auto id_text = proto::percent_decode(rest.substr(0, slash));
  const std::string_view suid = rest.substr(slash + 1);
  if (!id_text) return reply(proto::error_response(req, Rsc::bad_request, id_text.error().message()));
  if (auto refused = certificate_refusal(peer, req)) return reply(std::move(*refused));

  if (suid == std::to_string(proto::kSuidMafKm)) {
    auto ke_id = KeyId::parse(KeyIdKind::ke, *id_text, cfg_.id_encoding);
    if (!ke_id) return reply(proto::error_response(req, Rsc::bad_request, ke_id.error().message()));
    if (!service::peer_has_fqdn(peer, req.from, tls::AnchorRole::infrastructure)) {
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                         "X-M2M-Origin is not the authenticated MAF-FQDN"));
    }
    pool_.post([this, req, ke_id = std::move(*ke_id), ua, reply = std::move(reply)] {
      reply(km_credential(req, ke_id, ua, service::now_unix()));
    });
    return;
  }
  if (suid == std::to_string(proto::kSuidKpsa)) {
    // 8.3.2.3: an Enrolee B asking by B-TID gets Kpsa = Ks_NAF (Zn).
    if (auto b_tid = KeyId::parse(KeyIdKind::ke, *id_text);
        b_tid && b_tid->has_b_tid_form() && b_tid->fqdn().matches(fqdn_) && ua) {
      auto who = service::peer_entity_id(peer, cfg_.sp_domain, tls::AnchorRole::infrastructure);
      if (!who || *who != req.from) {
        return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                           "X-M2M-Origin is not the authenticated Enrolee B"));
      }
      pool_.post([this, req, key = b_tid->canonical(), ua, reply = std::move(reply)] {
        reply(gba_credential(req, key, *ua, store::TargetKind::kpsa, service::now_unix()));
      });
      return;
    }
    auto kpsa_id = KeyId::parse(KeyIdKind::kpsa, *id_text);
    if (!kpsa_id) return reply(proto::error_response(req, Rsc::bad_request, kpsa_id.error().message()));
    auto who = service::peer_entity_id(peer, cfg_.sp_domain, tls::AnchorRole::infrastructure);
    if (!who || *who != req.from) {
      return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                         "X-M2M-Origin is not the authenticated Enrolee B"));
    }
    pool_.post([this, req, key = kpsa_id->canonical(), text = kpsa_id->str(), reply = std::move(reply)] {
      const std::int64_t now = service::now_unix();
      auto enr = store_.mef().find_enrolment_by_kpsa_id(key, now);
      if (!enr) return reply(refusal(req, enr.error(), "KpsaID"));
      auto enrolee = store_.mef().get_enrolee(enr->enrolee_id);
      if (!enrolee) return reply(refusal(req, enrolee.error(), "enrolee"));
      if (enrolee->state != store::EnroleeState::active) return reply(refusal(req, Error(Errc::not_found), "enrolee"));
      if (enrolee->target_kind != store::TargetKind::kpsa || enrolee->target != req.from) {
        return reply(proto::error_response(req, Rsc::originator_has_no_privilege,
                                           "requester is not the enrolee's Enrolee B"));
      }
      std::int64_t lifetime = enr->expires_at;
      if (enrolee->expires_at && *enrolee->expires_at < lifetime) lifetime = *enrolee->expires_at;
      proto::CredentialResponse rsp{std::move(enr->kpsa), enrolee->enrolee_id, lifetime, text};
      spdlog::info("mef: gave Kpsa {} ({}) to {}", text, enrolee->enrolee_id, printable(req.from));
      service::audit_grant(audit_, "kpsa", text, req.from, "rsp", lifetime, enrolee->enrolee_id);
      reply(proto::ok_response(req, Rsc::ok, rsp.to_json()));
    });
    return;
  }
  reply(proto::error_response(req, Rsc::bad_request, "unsupported SUID " + std::string(suid)));
}

// gba_credential answers Zn (TS 33.220 4.5.3, TS-0003 8.3.2.3): the
// Ks_NAF of B-TID |b_tid| for the requester, which must be the
// subscriber's Enrolment Target (its GUSS): the MAF named by X-M2M-Origin
// (|kind| maf), or the Enrolee B whose CSE-ID it is (|kind| kpsa). NAF_Id
// is the requester's FQDN (a CSE's public domain name, 8.1.2.1) and the Ua
// security protocol identifier |ua|. The key lives no longer than Ks.
proto::Response MefService::gba_credential(const Request& req, const std::string& b_tid,
                                           const std::vector<std::uint8_t>& ua, store::TargetKind kind,
                                           std::int64_t now) {
  auto boot = store_.mef().find_bootstrap(b_tid, now);
  if (!boot) return refusal(req, boot.error(), "B-TID");
  auto sub = store_.mef().get_subscriber(boot->impi);
  if (!sub) return refusal(req, sub.error(), "subscriber");
  const bool is_target = sub->target_kind == kind && (kind == store::TargetKind::maf ? iequal(sub->target, req.from)
                                                                                    : sub->target == req.from);
  if (!is_target) {
    spdlog::warn("mef: {} asked for the Ks_NAF of {} whose target is {}", printable(req.from), printable(b_tid),
                 printable(sub->target));
    return proto::error_response(req, Rsc::originator_has_no_privilege, "requester is not the subscriber's target");
  }
  std::string naf = req.from;
  if (kind == store::TargetKind::kpsa) {
    auto fqdn = cse_public_domain_name(req.from, cfg_.sp_domain);
    if (!fqdn) return proto::error_response(req, Rsc::bad_request, "Enrolee B's CSE-ID has no public domain name");
    naf = *fqdn;
  }
  auto ks_naf = crypto::derive_ks_naf(boot->ks.view(), boot->rand, boot->impi, crypto::naf_id(naf, ua));
  if (!ks_naf) return proto::error_response(req, Rsc::internal_server_error, "Ks_NAF derivation failed");
  const std::string kind_name = kind == store::TargetKind::maf ? "km" : "kpsa";
  spdlog::info("mef: gave the Ks_NAF of {} ({}) to {}", b_tid, sub->enrolee_id, printable(req.from));
  service::audit_grant(audit_, kind_name, b_tid, req.from, "gba", boot->expires_at, sub->enrolee_id);
  proto::CredentialResponse rsp{std::move(*ks_naf), sub->enrolee_id, boot->expires_at, b_tid};
  return proto::ok_response(req, Rsc::ok, rsp.to_json());
}

}  // namespace m2msec::mef
