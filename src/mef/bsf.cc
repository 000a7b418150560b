#include "m2msec/mef/bsf.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"

namespace m2msec::mef {
namespace {

using proto::PlainHttpResponse;
using proto::Request;
namespace digest = proto::digest;

constexpr std::string_view kBsfXml = "application/vnd.3gpp.bsf+xml";
constexpr std::size_t kRandSize = 16;

proto::Response plain(int status, std::string text, std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto r = std::make_shared<PlainHttpResponse>();
  r->status = status;
  r->headers = std::move(headers);
  if (!text.empty()) {
    r->content_type = "text/plain";
    r->body = std::move(text) + "\n";
  }
  proto::Response rsp;
  rsp.plain = std::move(r);
  return rsp;
}

// xsd_datetime writes "YYYY-MM-DDThh:mm:ssZ" (TS 24.109 A.3 <lifetime>).
std::string xsd_datetime(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

// Pending is one outstanding challenge: the vector behind its nonce.
struct Bsf::Pending {
  std::string impi;
  digest::Challenge challenge;  // as sent (stale aside)
  std::array<std::uint8_t, kRandSize> rand{};
  SecretBytes xres;  // the Digest password (RFC 3310 3.3: "the password is RES")
  SecretBytes ks;    // CK || IK
};

void StoreSubscribers::auth_vector(const std::string& impi, std::function<void(Result<AuthVector>)> done) {
  pool_.post([this, impi, done = std::move(done)] {
    // One durable write reserves the next SQN (TS 33.102 C.1.1: SEQ + 1;
    // m2msec runs no IND array, so each vector is the next sequence
    // number). A vector whose answer never comes just leaves a gap.
    auto sub = store_.mef().advance_sqn(impi, 1);
    if (!sub) return done(std::unexpected(sub.error()));
    AuthVector av;
    if (RAND_bytes(av.rand.data(), static_cast<int>(av.rand.size())) != 1) {
      return done(fail(Errc::invalid_argument, "no randomness for RAND"));
    }
    const crypto::Sqn sqn = crypto::sqn_from_u64(sub->sqn);
    const std::array<std::uint8_t, 2> amf{static_cast<std::uint8_t>(sub->amf >> 8),
                                          static_cast<std::uint8_t>(sub->amf & 0xff)};
    auto out = crypto::milenage(sub->k.view(), sub->opc.view(), av.rand, sqn, amf);
    if (!out) return done(std::unexpected(out.error()));
    av.autn = crypto::milenage_autn(*out, sqn, amf);
    av.xres = out->res;
    av.ck = std::move(out->ck);
    av.ik = std::move(out->ik);
    done(std::move(av));
  });
}

void StoreSubscribers::resync(const std::string& impi, const std::array<std::uint8_t, 16>& rand,
                              const std::array<std::uint8_t, crypto::kAutsSize>& auts,
                              std::function<void(Status)> done) {
  pool_.post([this, impi, rand, auts, done = std::move(done)] {
    auto sub = store_.mef().get_subscriber(impi);
    if (!sub) return done(std::unexpected(sub.error()));
    auto sqn_ms = crypto::milenage_verify_auts(sub->k.view(), sub->opc.view(), rand, auts);
    if (!sqn_ms) return done(std::unexpected(sqn_ms.error()));
    // TS 33.102 6.3.5: the HE "resets" SQN_HE to SQN_MS; the next vector
    // then carries SQN_MS + 1.
    done(store_.mef().set_sqn(impi, crypto::sqn_to_u64(*sqn_ms)));
  });
}

Bsf::Bsf(BsfConfig cfg, Fqdn fqdn, SubscriberSource& subscribers, store::Store& store, service::WorkerPool& pool)
    : cfg_(cfg),
      fqdn_(std::move(fqdn)),
      subscribers_(subscribers),
      store_(store),
      pool_(pool),
      pending_(cfg.max_challenges, cfg.challenge_lifetime),
      spent_(cfg.max_challenges, cfg.challenge_lifetime),
      latest_(cfg.max_challenges, cfg.challenge_lifetime) {}

// TS 24.109 4.2: "the BSF shall ... [answer] GET requests to the
// bootstrapping resource"; its Request-URI "is by default '/'".
void Bsf::handle(const service::AuthRef&, const Request& req, proto::Reply reply) {
  const proto::PlainHttp& http = *req.plain;
  if (req.to != "/") return reply(plain(404, "no such resource"));
  if (http.method != "GET") return reply(plain(405, "only GET on the bootstrapping resource", {{"Allow", "GET"}}));
  if (http.authorization.empty()) {
    return reply(plain(400, "Authorization with the IMPI as username is required (TS 24.109 4.2)"));
  }
  auto creds = digest::parse_credentials(http.authorization);
  if (!creds) return reply(plain(400, "bad Authorization: " + creds.error().message()));
  // TS 24.109 4.2: realm is the BSF's FQDN (the UE takes it from the
  // BSF's certificate).
  if (auto realm = Fqdn::parse(creds->realm); !realm || !realm->matches(fqdn_)) {
    return reply(plain(400, "realm is not the BSF's FQDN"));
  }
  if (creds->uri != req.to) return reply(plain(400, "uri does not match the Request-URI"));
  // The initial request: username only, empty nonce and response.
  if (creds->nonce.empty()) return challenge(req, creds->username, /*stale=*/false, std::move(reply));
  verify(req, *creds, std::move(reply));
}

// send_challenge answers 401 with |c|, marked stale if |stale|.
static proto::Response send_challenge(digest::Challenge c, bool stale) {
  c.stale = stale;
  auto header = digest::format_challenge(c);
  if (!header) return plain(500, "could not form the challenge");
  return plain(401, "", {{"WWW-Authenticate", *header}});
}

void Bsf::challenge(const Request& req, const std::string& impi, bool stale, proto::Reply reply, bool fresh) {
  // An unauthenticated peer must not make the MEF write at will: an IMPI
  // with a challenge outstanding gets it again, an unknown one is refused
  // from memory for a while. After a resynchronisation the vector must be
  // new (|fresh|): the outstanding one's SQN is behind SQN_MS now.
  if (unknown_.find(impi)) return reply(plain(403, "unknown IMPI"));
  if (!fresh) {
    if (auto nonce = latest_.find(impi)) {
      if (auto p = pending_.find(*nonce)) return reply(send_challenge((*p)->challenge, stale));
    }
  }
  subscribers_.auth_vector(impi, [this, req, impi, stale, reply = std::move(reply)](Result<AuthVector> av) {
    if (!av) {
      if (av.error().code() == Errc::not_found) {
        spdlog::info("bsf: refused bootstrap of unknown IMPI '{}'", printable(impi));
        service::audit_refusal(audit_, "ks", "", impi, "unknown_key");
        unknown_.put(impi, true);
        return reply(plain(403, "unknown IMPI"));
      }
      spdlog::warn("bsf: no vector for '{}': {}", printable(impi), av.error().message());
      return reply(plain(500, "subscriber source failed"));
    }
    auto p = std::make_shared<Pending>();
    p->impi = impi;
    p->rand = av->rand;
    p->xres = SecretBytes(std::span<const std::uint8_t>(av->xres.data(), av->xres.size()));
    p->ks = SecretBytes(32);
    std::copy(av->ck.view().begin(), av->ck.view().end(), p->ks.data());
    std::copy(av->ik.view().begin(), av->ik.view().end(), p->ks.data() + 16);
    secure_wipe(av->xres.data(), av->xres.size());
    // RFC 3310 3.1: nonce = base64(RAND || AUTN || server data); m2msec
    // adds no server data.
    std::vector<std::uint8_t> raw(av->rand.begin(), av->rand.end());
    raw.insert(raw.end(), av->autn.begin(), av->autn.end());
    digest::Challenge& c = p->challenge;
    c.realm = fqdn_.str();
    c.nonce = base64_encode(raw);
    c.algorithm = std::string(digest::kAkaV1Md5);
    c.qop = "auth-int";
    const std::string nonce = c.nonce;
    proto::Response rsp = send_challenge(c, stale);
    pending_.put(nonce, std::move(p));
    latest_.put(impi, nonce);
    reply(std::move(rsp));
  });
}

void Bsf::verify(const Request& req, const digest::Credentials& creds, proto::Reply reply) {
  if (creds.algorithm != digest::kAkaV1Md5 || creds.qop != "auth-int") {
    return reply(plain(400, "want algorithm=AKAv1-MD5 and qop=auth-int"));
  }
  // Every answer uses the nonce up, right or wrong: one vector, one try.
  // Taken in one step, so two answers racing on one nonce cannot both pass.
  auto pending = pending_.take(creds.nonce);
  if (!pending) {
    // A nonce answered before is a replay; any other we no longer hold
    // (expired, or never issued) gets a fresh challenge marked stale.
    const bool replay = spent_.find(creds.nonce).has_value();
    spdlog::info("bsf: {} nonce from '{}'; challenging again", replay ? "replayed" : "stale or unknown",
                 printable(creds.username));
    return challenge(req, creds.username, /*stale=*/!replay, std::move(reply));
  }
  const std::shared_ptr<const Pending> p = *pending;
  spent_.put(creds.nonce, true);
  if (p->impi != creds.username) {
    spdlog::warn("bsf: '{}' answered a nonce issued to another IMPI", printable(creds.username));
    return reply(plain(403, "nonce was issued to another IMPI"));
  }
  if (creds.auts) {
    auto auts = base64_decode(*creds.auts);
    if (!auts || auts->size() != crypto::kAutsSize) return reply(plain(400, "auts is not base64 of 14 bytes"));
    std::array<std::uint8_t, crypto::kAutsSize> a{};
    std::copy(auts->begin(), auts->end(), a.begin());
    subscribers_.resync(p->impi, p->rand, a, [this, req, impi = p->impi, reply](Status st) mutable {
      if (!st) {
        spdlog::warn("bsf: refused AUTS from '{}': {}", printable(impi), st.error().message());
        return reply(plain(403, "AUTS does not verify"));
      }
      spdlog::info("bsf: resynchronised SQN of '{}'", printable(impi));
      challenge(req, impi, /*stale=*/false, std::move(reply), /*fresh=*/true);
    });
    return;
  }
  auto expected = digest::compute_response(p->xres.view(), creds, req.plain->method, req.plain->body);
  if (!expected) return reply(plain(500, "could not compute the digest"));
  if (!digest::response_matches(*expected, creds.response)) {
    spdlog::warn("bsf: wrong RES from '{}'", printable(creds.username));
    service::audit_refusal(audit_, "ks", "", creds.username, "unauthenticated");
    return reply(plain(403, "authentication failed"));
  }
  grant(req, creds, p, std::move(reply));
}

// TS 33.220 4.5.2: "BSF shall generate key material Ks by concatenating CK
// and IK. The B-TID value shall be also generated in format of NAI by
// taking the base64 encoded RAND value ... and the BSF server name, i.e.
// base64encoded(RAND)@BSF_servers_domain_name."
void Bsf::grant(const Request&, const digest::Credentials& creds, std::shared_ptr<const Pending> p,
                proto::Reply reply) {
  // Sealing Ks and the durable write run on a worker, not on the
  // session's thread.
  pool_.post([this, creds, p, reply = std::move(reply)] { record(creds, p, reply); });
}

void Bsf::record(const digest::Credentials& creds, const std::shared_ptr<const Pending>& p, const proto::Reply& reply) {
  const std::int64_t now = now_unix();
  const KeyId b_tid = KeyId::b_tid(p->rand, fqdn_);
  store::GbaBootstrap row;
  row.b_tid = b_tid.canonical();
  row.impi = p->impi;
  row.ks = p->ks.clone();
  row.rand.assign(p->rand.begin(), p->rand.end());
  row.created_at = now;
  row.expires_at = now + cfg_.key_lifetime;
  // Durable before it is acknowledged, like every enrolment.
  Status st = store_.mef().put_bootstrap(row, now);
  if (!st) {
    spdlog::warn("bsf: could not record {}: {}", b_tid.str(), st.error().message());
    return reply(plain(500, "could not record the bootstrap"));
  }
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BootstrappingInfo xmlns=\"uri:3gpp-gba\">\n<btid>" +
                     b_tid.str() + "</btid>\n<lifetime>" + xsd_datetime(row.expires_at) +
                     "</lifetime>\n</BootstrappingInfo>\n";
  auto rspauth = digest::compute_rspauth(p->xres.view(), creds, body);
  auto info = rspauth ? digest::format_authentication_info(*rspauth, creds) : Result<std::string>(std::unexpected(rspauth.error()));
  if (!info) return reply(plain(500, "could not form Authentication-Info"));
  spdlog::info("bsf: bootstrapped '{}' as {}", printable(p->impi), b_tid.str());
  service::audit_grant(audit_, "ks", b_tid.str(), p->impi, "rsp", row.expires_at);
  auto r = std::make_shared<PlainHttpResponse>();
  r->status = 200;
  r->headers = {{"Authentication-Info", *info}};
  r->content_type = std::string(kBsfXml);
  r->body = std::move(body);
  proto::Response rsp;
  rsp.plain = std::move(r);
  reply(std::move(rsp));
}

}  // namespace m2msec::mef
