// The MEF's BSF (Ub, TS 24.109 clause 4) driven directly through
// MefService::handle: plain HTTP requests, a real SQLite store in a temp
// dir, no sockets. The UE side here is written from the specifications
// (RFC 3310 for the Digest run, TS 33.102 6.3.3 and 6.3.5 for the USIM),
// on MILENAGE that tests/unit/crypto checks against TS 35.208 and
// osmo-auc-gen. Every refusal the BSF gives has a case.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <thread>

#include "m2msec/core/encoding.h"
#include "m2msec/crypto/gba.h"
#include "m2msec/crypto/milenage.h"
#include "m2msec/mef/mef.h"
#include "m2msec/proto/digest.h"
#include "m2msec/proto/messages.h"
#include "../service/service_harness.h"

namespace m2msec::mef {
namespace {

using namespace service::testing;
namespace digest = proto::digest;

constexpr const char* kImpi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
// TS 35.208 test set 1.
constexpr const char* kK = "465b5ce8b199b49faa5f0a2ee238a6bc";
constexpr const char* kOpc = "cd63cb71954a9f4e48a5994e37a02baf";

std::vector<std::uint8_t> unhex(const char* h) { return *hex_decode(h); }

proto::Request ub(const std::string& authorization, std::string method = "GET", std::string to = "/") {
  auto p = std::make_shared<proto::PlainHttp>();
  p->method = std::move(method);
  p->host = "mef.example.com";
  p->authorization = authorization;
  proto::Request r;
  r.op = proto::Operation::retrieve;
  r.to = std::move(to);
  r.plain = std::move(p);
  return r;
}

std::string header(const proto::Response& r, const std::string& name) {
  if (!r.plain) return {};
  for (const auto& [n, v] : r.plain->headers) {
    if (n == name) return v;
  }
  return {};
}

int status(const proto::Response& r) { return r.plain ? r.plain->status : -1; }

std::string initial(const std::string& impi = kImpi) {
  return "Digest username=\"" + impi + "\", realm=\"mef.example.com\", nonce=\"\", uri=\"/\", response=\"\"";
}

// Ue is the device side: a USIM with K, OPc and its highest accepted SQN.
struct Ue {
  std::uint64_t sqn_ms = 0;
  std::string impi = kImpi;

  struct Answer {
    std::string authorization;
    SecretBytes res;
    digest::Credentials creds;
    std::vector<std::uint8_t> rand;
    SecretBytes ks;
  };

  // answer verifies the challenge's AUTN and answers with RES, or with
  // AUTS when the SQN is not fresh (TS 33.102 6.3.3).
  Answer answer(const proto::Response& challenge_rsp) {
    Answer a;
    auto c = digest::parse_challenge(header(challenge_rsp, "WWW-Authenticate"));
    EXPECT_TRUE(c);
    auto raw = base64_decode(c->nonce);
    EXPECT_TRUE(raw && raw->size() == 32);
    a.rand.assign(raw->begin(), raw->begin() + 16);
    const std::vector<std::uint8_t> autn(raw->begin() + 16, raw->end());
    auto check = crypto::milenage_verify_autn(unhex(kK), unhex(kOpc), a.rand, autn);
    EXPECT_TRUE(check);
    a.creds.username = impi;
    a.creds.realm = c->realm;
    a.creds.nonce = c->nonce;
    a.creds.uri = "/";
    a.creds.algorithm = "AKAv1-MD5";
    a.creds.qop = "auth-int";
    a.creds.nc = "00000001";
    a.creds.cnonce = "0a4f113b";
    const std::uint64_t sqn = crypto::sqn_to_u64(check->sqn);
    if (sqn <= sqn_ms) {
      auto auts = crypto::milenage_auts(unhex(kK), unhex(kOpc), a.rand, crypto::sqn_from_u64(sqn_ms));
      a.creds.auts = base64_encode(*auts);
      a.creds.response = *digest::compute_response({}, a.creds, "GET", "");
    } else {
      sqn_ms = sqn;
      a.res = SecretBytes(std::span<const std::uint8_t>(check->out.res.data(), check->out.res.size()));
      a.creds.response = *digest::compute_response(a.res.view(), a.creds, "GET", "");
      a.ks = SecretBytes(32);
      std::copy(check->out.ck.view().begin(), check->out.ck.view().end(), a.ks.data());
      std::copy(check->out.ik.view().begin(), check->out.ik.view().end(), a.ks.data() + 16);
    }
    a.authorization = *digest::format_credentials(a.creds);
    return a;
  }
};

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  const auto b = s.find(open);
  const auto e = s.find(close);
  if (b == std::string::npos || e == std::string::npos || e < b) return {};
  return s.substr(b + open.size(), e - b - open.size());
}

class BsfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::open_store(dir_.file("mef.db"));
    ASSERT_TRUE(store_);
    MefConfig cfg;
    cfg.listen.fqdn = "mef.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.bsf.enabled = true;
    cfg.bsf.key_lifetime = 3600;
    svc_ = std::make_unique<MefService>(cfg, *store_, pool_);
    add_subscriber(kImpi, "/dev-gba-1", store::TargetKind::maf, "maf.example.com");
  }

  // add_subscriber adds a UICC with test set 1's K and OPc, SQN 100.
  void add_subscriber(const std::string& impi, const std::string& enrolee, store::TargetKind kind,
                      const std::string& target) {
    store::GbaSubscriber s;
    s.impi = impi;
    s.k = SecretBytes(unhex(kK));
    s.opc = SecretBytes(unhex(kOpc));
    s.sqn = 100;
    s.enrolee_id = enrolee;
    s.target_kind = kind;
    s.target = target;
    ASSERT_TRUE(store_->mef().add_subscriber(s, service::now_unix()));
  }

  proto::Response send(const std::string& authorization) { return call(*svc_, anonymous_ctx(), ub(authorization)); }

  TempDir dir_;
  service::WorkerPool pool_{2};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MefService> svc_;
};

// TS 24.109 4.2 / A.3: initial GET, 401 with the AKA challenge, GET with
// the Digest response, 200 with the B-TID and its lifetime; TS 33.220
// 4.5.2: Ks = CK || IK under B-TID = base64(RAND)@BSF-FQDN.
TEST_F(BsfTest, BootstrapsAndKeepsKsUnderBTid) {
  const proto::Response first = send(initial());
  ASSERT_EQ(status(first), 401);
  auto c = digest::parse_challenge(header(first, "WWW-Authenticate"));
  ASSERT_TRUE(c) << header(first, "WWW-Authenticate");
  EXPECT_EQ(c->realm, "mef.example.com");
  EXPECT_EQ(c->algorithm, "AKAv1-MD5");
  EXPECT_EQ(c->qop, "auth-int");
  EXPECT_FALSE(c->stale);

  Ue ue;
  Ue::Answer a = ue.answer(first);
  EXPECT_EQ(ue.sqn_ms, 101u);  // the SQN after the subscriber's 100
  const proto::Response ok = send(a.authorization);
  ASSERT_EQ(status(ok), 200) << (ok.plain ? ok.plain->body : "");
  EXPECT_EQ(ok.plain->content_type, "application/vnd.3gpp.bsf+xml");
  const std::string b_tid = between(ok.plain->body, "<btid>", "</btid>");
  EXPECT_EQ(b_tid, base64_encode(a.rand) + "@mef.example.com");
  EXPECT_FALSE(between(ok.plain->body, "<lifetime>", "</lifetime>").empty());

  // Authentication-Info: rspauth over the response body, password RES.
  auto info = digest::parse_authentication_info(header(ok, "Authentication-Info"));
  ASSERT_TRUE(info) << header(ok, "Authentication-Info");
  EXPECT_EQ(info->rspauth, *digest::compute_rspauth(a.res.view(), a.creds, ok.plain->body));

  auto row = store_->mef().find_bootstrap(b_tid, service::now_unix());
  ASSERT_TRUE(row) << row.error().message();
  EXPECT_EQ(row->impi, kImpi);
  EXPECT_TRUE(row->ks == a.ks);
  EXPECT_LE(row->expires_at, service::now_unix() + 3600);
}

// TS 33.102 6.3.5: a USIM that has seen a higher SQN answers with AUTS;
// the BSF moves SQN past SQN_MS and challenges again, and that challenge
// is fresh to the USIM.
TEST_F(BsfTest, ResynchronisesFromAuts) {
  Ue ue;
  ue.sqn_ms = 5000;
  Ue::Answer a = ue.answer(send(initial()));
  ASSERT_TRUE(a.creds.auts);
  const proto::Response again = send(a.authorization);
  ASSERT_EQ(status(again), 401);
  Ue::Answer b = ue.answer(again);
  EXPECT_FALSE(b.creds.auts);
  EXPECT_EQ(ue.sqn_ms, 5001u);
  EXPECT_EQ(status(send(b.authorization)), 200);
}

TEST_F(BsfTest, RefusesABadAuts) {
  Ue ue;
  ue.sqn_ms = 5000;
  Ue::Answer a = ue.answer(send(initial()));
  auto auts = base64_decode(*a.creds.auts);
  (*auts)[13] ^= 0x01;
  a.creds.auts = base64_encode(*auts);
  EXPECT_EQ(status(send(*digest::format_credentials(a.creds))), 403);
  // Not base64 of 14 bytes.
  // (the formatter refuses to write it, so the header is edited by hand).
  Ue::Answer b = ue.answer(send(initial()));
  std::string header_text = b.authorization;
  const auto at = header_text.find("auts=\"");
  ASSERT_NE(at, std::string::npos);
  header_text = header_text.substr(0, at) + "auts=\"AAAA\"";
  EXPECT_EQ(status(send(header_text)), 400);
  // The SQN was not moved: the next challenge is still stale to the USIM.
  Ue::Answer c = ue.answer(send(initial()));
  EXPECT_TRUE(c.creds.auts);
}

// A wrong RES is refused and uses the nonce up: the right RES on the same
// nonce then gets a new challenge, not a B-TID.
TEST_F(BsfTest, RefusesAWrongResAndBurnsTheNonce) {
  Ue ue;
  Ue::Answer a = ue.answer(send(initial()));
  digest::Credentials wrong = a.creds;
  wrong.response = *digest::compute_response(std::vector<std::uint8_t>(8, 0x55), wrong, "GET", "");
  EXPECT_EQ(status(send(*digest::format_credentials(wrong))), 403);
  const proto::Response retry = send(a.authorization);
  EXPECT_EQ(status(retry), 401);
}

// "Every answer uses its nonce up": two answers racing on one nonce (two
// sessions) give one B-TID; the other gets a new challenge.
TEST_F(BsfTest, ConcurrentAnswersToOneNonceGiveOneBTid) {
  for (int round = 0; round < 20; ++round) {
    Ue ue;  // a USIM that accepts any SQN the BSF sends (the loser's new challenge included)
    Ue::Answer a = ue.answer(send(initial()));
    ASSERT_FALSE(a.creds.auts);
    std::array<int, 2> got{};
    std::thread other([&] { got[1] = status(send(a.authorization)); });
    got[0] = status(send(a.authorization));
    other.join();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::array<int, 2>{200, 401})) << "round " << round;
  }
}

TEST_F(BsfTest, RefusesAnUnknownImpi) {
  const proto::Response r = send(initial("999990000000001@ims.mnc999.mcc999.3gppnetwork.org"));
  EXPECT_EQ(status(r), 403);
  EXPECT_TRUE(header(r, "WWW-Authenticate").empty());
}

// A replayed answer gets a new challenge (not stale) and no second B-TID;
// a nonce the BSF does not hold gets one marked stale=TRUE.
TEST_F(BsfTest, ReplayedAndStaleNoncesAreChallengedAgain) {
  Ue ue;
  Ue::Answer a = ue.answer(send(initial()));
  ASSERT_EQ(status(send(a.authorization)), 200);
  const proto::Response replay = send(a.authorization);
  ASSERT_EQ(status(replay), 401);
  EXPECT_FALSE(digest::parse_challenge(header(replay, "WWW-Authenticate"))->stale);

  digest::Credentials unknown = a.creds;
  std::vector<std::uint8_t> raw(32, 0x11);
  unknown.nonce = base64_encode(raw);
  const proto::Response stale = send(*digest::format_credentials(unknown));
  ASSERT_EQ(status(stale), 401);
  EXPECT_TRUE(digest::parse_challenge(header(stale, "WWW-Authenticate"))->stale);
}

TEST_F(BsfTest, RefusesANonceIssuedToAnotherImpi) {
  const std::string other = "001010000000002@ims.mnc001.mcc001.3gppnetwork.org";
  add_subscriber(other, "/dev-gba-2", store::TargetKind::maf, "maf.example.com");
  Ue ue;
  Ue::Answer a = ue.answer(send(initial()));
  a.creds.username = other;
  EXPECT_EQ(status(send(*digest::format_credentials(a.creds))), 403);
}

TEST_F(BsfTest, RefusesMalformedRequests) {
  EXPECT_EQ(status(send("")), 400);
  EXPECT_EQ(status(send("Basic dXNlcjpwYXNz")), 400);
  EXPECT_EQ(status(send("Digest username=\"x\", realm=\"other.example.com\", nonce=\"\", uri=\"/\", response=\"\"")), 400);
  EXPECT_EQ(status(send("Digest username=\"x\", realm=\"mef.example.com\", nonce=\"\", uri=\"/x\", response=\"\"")), 400);
  EXPECT_EQ(status(call(*svc_, anonymous_ctx(), ub(initial(), "POST"))), 405);
  EXPECT_EQ(status(call(*svc_, anonymous_ctx(), ub(initial(), "GET", "/bsf"))), 404);
  // An answer with qop=auth (not auth-int) is refused.
  Ue ue;
  Ue::Answer a = ue.answer(send(initial()));
  a.creds.qop = "auth";
  EXPECT_EQ(status(send(*digest::format_credentials(a.creds))), 400);
}

// An unauthenticated peer cannot make the MEF write at will: repeated
// initial requests for one IMPI get its outstanding challenge again (one
// SQN, one write), and an IMPI found unknown is refused from memory for
// 10 s (even if the operator adds it meanwhile).
TEST_F(BsfTest, RepeatedInitialRequestsCostOneVector) {
  const proto::Response a = send(initial());
  const proto::Response b = send(initial());
  ASSERT_EQ(status(a), 401);
  ASSERT_EQ(status(b), 401);
  EXPECT_EQ(digest::parse_challenge(header(a, "WWW-Authenticate"))->nonce,
            digest::parse_challenge(header(b, "WWW-Authenticate"))->nonce);
  EXPECT_EQ(store_->mef().get_subscriber(kImpi)->sqn, 101u);
  // Answered, the next initial request gets a new vector.
  Ue ue;
  ASSERT_EQ(status(send(ue.answer(b).authorization)), 200);
  const proto::Response c = send(initial());
  EXPECT_NE(digest::parse_challenge(header(c, "WWW-Authenticate"))->nonce,
            digest::parse_challenge(header(a, "WWW-Authenticate"))->nonce);
  EXPECT_EQ(store_->mef().get_subscriber(kImpi)->sqn, 102u);

  const std::string later = "001010000000009@ims.mnc001.mcc001.3gppnetwork.org";
  EXPECT_EQ(status(send(initial(later))), 403);
  add_subscriber(later, "/dev-gba-9", store::TargetKind::maf, "maf.example.com");
  EXPECT_EQ(status(send(initial(later))), 403);
}

// A nonce answers for challenge_lifetime_s only: a right answer after it
// gets a new challenge marked stale=TRUE, and no B-TID.
TEST_F(BsfTest, AnExpiredNonceIsStale) {
  MefConfig cfg;
  cfg.listen.fqdn = "mef.example.com";
  cfg.sp_domain = "sp.example.com";
  cfg.bsf.enabled = true;
  cfg.bsf.challenge_lifetime = std::chrono::seconds(1);
  MefService short_lived(cfg, *store_, pool_);
  Ue ue;
  Ue::Answer a = ue.answer(call(short_lived, anonymous_ctx(), ub(initial())));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  const proto::Response late = call(short_lived, anonymous_ctx(), ub(a.authorization));
  ASSERT_EQ(status(late), 401);
  EXPECT_TRUE(digest::parse_challenge(header(late, "WWW-Authenticate"))->stale);
  // Answered in time, the next challenge gives a B-TID.
  Ue::Answer b = ue.answer(late);
  EXPECT_EQ(status(call(short_lived, anonymous_ctx(), ub(b.authorization))), 200);
}

// --- Zn: fetchCredentials by B-TID with ?ua= (docs/protocol.md 2.4) ----------

class ZnTest : public BsfTest {
 protected:
  // bootstrap runs Ub for |impi| and returns the B-TID; |ks| and |rand|
  // receive what the device holds.
  std::string bootstrap(const std::string& impi = kImpi) {
    Ue ue;
    ue.impi = impi;
    Ue::Answer a = ue.answer(send(initial(impi)));
    const proto::Response ok = send(a.authorization);
    EXPECT_EQ(status(ok), 200);
    ks_ = a.ks.clone();
    rand_ = a.rand;
    return between(ok.plain->body, "<btid>", "</btid>");
  }

  proto::Request zn(const std::string& b_tid, int suid, const std::string& from, const std::string& query) {
    return request(proto::Operation::retrieve,
                   std::string(proto::kMefFetchPrefix) + proto::percent_encode(b_tid) + "/" + std::to_string(suid) +
                       query,
                   from);
  }

  // expected is Ks_NAF (TS 33.220 B.3) as the device derives it; the KDF
  // itself is checked against the openssl CLI in crypto.Gba.
  std::string expected(const std::string& naf, crypto::UaBinding binding, const std::string& impi = kImpi) {
    auto k = crypto::derive_ks_naf(ks_.view(), rand_, impi, crypto::naf_id(naf, binding));
    return base64_encode(k->view());
  }

  SecretBytes ks_;
  std::vector<std::uint8_t> rand_;
};

const std::string kUaTls = "?ua=01000100ae";
const std::string kUaDtls = "?ua=010001c0a8";

TEST_F(ZnTest, TheTargetMafGetsItsKsNafPerTransport) {
  const std::string b_tid = bootstrap();
  auto maf = cert_ctx({}, {"maf.example.com"});
  for (auto [query, binding] : {std::pair{kUaTls, crypto::UaBinding::tls}, std::pair{kUaDtls, crypto::UaBinding::dtls}}) {
    const proto::Response r = call(*svc_, maf, zn(b_tid, proto::kSuidMafKm, "maf.example.com", query));
    ASSERT_EQ(rsc(r), 2000) << dbg(r);
    auto c = proto::CredentialResponse::from_json(r.content);
    ASSERT_TRUE(c);
    EXPECT_EQ(base64_encode(c->key.view()), expected("maf.example.com", binding));
    EXPECT_EQ(c->enrolee_id, "/dev-gba-1");
    EXPECT_EQ(c->key_id, b_tid);
    auto boot = store_->mef().find_bootstrap(b_tid, service::now_unix());
    EXPECT_EQ(c->lifetime, boot->expires_at);  // Ks lifetime bounds Ks_NAF's
  }
}

TEST_F(ZnTest, OnlyTheSubscribersTargetGetsAKey) {
  const std::string b_tid = bootstrap();
  // Another MAF, with its own infrastructure certificate.
  const proto::Response other = call(*svc_, cert_ctx({}, {"maf2.example.com"}),
                                     zn(b_tid, proto::kSuidMafKm, "maf2.example.com", kUaTls));
  EXPECT_EQ(rsc(other), 4103) << dbg(other);
  // A MAF naming another MAF's FQDN than its certificate's.
  const proto::Response claim = call(*svc_, cert_ctx({}, {"maf2.example.com"}),
                                     zn(b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls));
  EXPECT_EQ(rsc(claim), 4103) << dbg(claim);
  // Entity B asking for a MAF-target subscriber's key.
  const proto::Response cse = call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}),
                                   zn(b_tid, proto::kSuidKpsa, "/in-cse", kUaTls));
  EXPECT_EQ(rsc(cse), 4103) << dbg(cse);
  // A device certificate naming the MAF.
  const proto::Response device = call(*svc_, cert_ctx({}, {"maf.example.com"}, kDeviceCa),
                                      zn(b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls));
  EXPECT_EQ(rsc(device), 4103) << dbg(device);
  // A PSK session (a device's) gets nothing either.
  const proto::Response psk = call(*svc_, psk_ctx("kpm-1"), zn(b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls));
  EXPECT_EQ(rsc(psk), 4103) << dbg(psk);
}

TEST_F(ZnTest, EntityBGetsTheKsNafOfItsPublicDomainName) {
  const std::string impi = "001010000000003@ims.mnc001.mcc001.3gppnetwork.org";
  add_subscriber(impi, "/dev-gba-3", store::TargetKind::kpsa, "/in-cse");
  const std::string b_tid = bootstrap(impi);
  const proto::Response r =
      call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}), zn(b_tid, proto::kSuidKpsa, "/in-cse", kUaDtls));
  ASSERT_EQ(rsc(r), 2000) << dbg(r);
  auto c = proto::CredentialResponse::from_json(r.content);
  EXPECT_EQ(base64_encode(c->key.view()), expected("in-cse.sp.example.com", crypto::UaBinding::dtls, impi));
  EXPECT_EQ(c->enrolee_id, "/dev-gba-3");
  // The MAF gets nothing for a Kpsa-target subscriber.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}), zn(b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls))),
            4103);
}

// Ks lifetime bounds Ks_NAF's: an expired bootstrap gives no key.
TEST_F(ZnTest, AnExpiredBTidGivesNoKey) {
  const std::int64_t now = service::now_unix();
  store::GbaBootstrap old;
  old.b_tid = base64_encode(std::vector<std::uint8_t>(16, 0x24)) + "@mef.example.com";
  old.impi = kImpi;
  old.ks = SecretBytes(32);
  old.rand = std::vector<std::uint8_t>(16, 0x24);
  old.expires_at = now - 10;
  ASSERT_TRUE(store_->mef().put_bootstrap(old, now - 100));
  const proto::Response r =
      call(*svc_, cert_ctx({}, {"maf.example.com"}), zn(old.b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls));
  EXPECT_EQ(rsc(r), 4103) << dbg(r);
}

TEST_F(ZnTest, RefusesUnknownRemovedAndMalformed) {
  const std::string b_tid = bootstrap();
  auto maf = cert_ctx({}, {"maf.example.com"});
  const std::string unknown = base64_encode(std::vector<std::uint8_t>(16, 0x42)) + "@mef.example.com";
  EXPECT_EQ(rsc(call(*svc_, maf, zn(unknown, proto::kSuidMafKm, "maf.example.com", kUaTls))), 4004);
  // Without ?ua= a B-TID is looked up as an exporter KeID only.
  EXPECT_EQ(rsc(call(*svc_, maf, zn(b_tid, proto::kSuidMafKm, "maf.example.com", ""))), 4004);
  for (const std::string& bad : {std::string("?ua=0100010001"), std::string("?ua=01000100"), std::string("?ua=zz"),
                                 std::string("?holder=x"), std::string("?ua=")}) {
    EXPECT_EQ(rsc(call(*svc_, maf, zn(b_tid, proto::kSuidMafKm, "maf.example.com", bad))), 4000) << bad;
  }
  // The operator removes the subscriber: its B-TIDs stop resolving.
  ASSERT_TRUE(store_->mef().remove_subscriber(kImpi));
  EXPECT_EQ(rsc(call(*svc_, maf, zn(b_tid, proto::kSuidMafKm, "maf.example.com", kUaTls))), 4004);
}

// [mef.bsf] (docs/configuration.md): off by default, its bounds enforced,
// and on only with the MEF's certificate, which the device verifies.
TEST(BsfConfig, ReadsTheTableAndNeedsTheMefCertificate) {
  TempDir dir;
  auto load = [&](const std::string& extra) {
    const std::string path = dir.file("mef.toml");
    std::ofstream(path) << "[mef]\nfqdn = \"mef.example.com\"\nsp_domain = \"sp.example.com\"\ndata_dir = \"d\"\n" << extra;
    auto file = service::ConfigFile::load(path);
    EXPECT_TRUE(file);
    return load_mef_config(*file);
  };
  const std::string cert = "certificate = \"mef.crt\"\nprivate_key = \"mef.key\"\n";
  auto off = load(cert);
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_FALSE(off->bsf.enabled);
  auto on = load(cert + "[mef.bsf]\nenabled = true\nkey_lifetime_s = 3600\nchallenge_lifetime_s = 5\n");
  ASSERT_TRUE(on) << on.error().message();
  EXPECT_TRUE(on->bsf.enabled);
  EXPECT_EQ(on->bsf.key_lifetime, 3600);
  EXPECT_EQ(on->bsf.challenge_lifetime, std::chrono::seconds(5));
  auto no_cert = load("[mef.bsf]\nenabled = true\n");
  ASSERT_FALSE(no_cert);
  EXPECT_NE(no_cert.error().message().find("mef.bsf.enabled needs mef.certificate"), std::string::npos);
  for (const std::string& bad : {std::string("key_lifetime_s = 59\n"), std::string("challenge_lifetime_s = 0\n"),
                                 std::string("max_challenges = 0\n"), std::string("unknown = 1\n")}) {
    auto r = load(cert + "[mef.bsf]\nenabled = true\n" + bad);
    EXPECT_FALSE(r) << bad;
  }
}

// [[mef.maf]] address: HOST:PORT or a coaps:// / https:// URI; anything
// else is refused at load, naming the key.
TEST(MefConfig, MafAddressTakesHostPortOrAServiceUri) {
  TempDir dir;
  auto load = [&](const std::string& address) {
    const std::string path = dir.file("mef.toml");
    std::ofstream(path) << "[mef]\nfqdn = \"mef.example.com\"\nsp_domain = \"sp.example.com\"\ndata_dir = \"d\"\n"
                        << "[[mef.maf]]\nfqdn = \"maf.example.com\"\naddress = \"" << address << "\"\n";
    auto file = service::ConfigFile::load(path);
    EXPECT_TRUE(file);
    return load_mef_config(*file);
  };
  for (const char* good : {"127.0.0.1:5685", "coaps://127.0.0.1:5685", "https://maf.example.com:443"}) {
    auto c = load(good);
    ASSERT_TRUE(c) << good << ": " << c.error().message();
    EXPECT_EQ(c->mafs.at(0).address, good);
  }
  for (const char* bad : {"ftp://127.0.0.1:21", "127.0.0.1", "coaps://127.0.0.1:0"}) {
    auto c = load(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message().find(".address: want host:port, coaps://host:port or https://host:port"),
              std::string::npos)
        << c.error().message();
  }
}

// With [mef.bsf] off, a plain HTTP request gets 400 and nothing else.
TEST(BsfDisabled, PlainRequestsAreRefused) {
  TempDir dir;
  service::WorkerPool pool{1};
  auto store = store::testing::open_store(dir.file("mef.db"));
  MefConfig cfg;
  cfg.listen.fqdn = "mef.example.com";
  cfg.sp_domain = "sp.example.com";
  MefService svc(cfg, *store, pool);
  const proto::Response r = call(svc, anonymous_ctx(), ub(initial()));
  ASSERT_TRUE(r.plain);
  EXPECT_EQ(r.plain->status, 400);
}

}  // namespace
}  // namespace m2msec::mef
