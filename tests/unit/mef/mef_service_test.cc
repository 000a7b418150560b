// MefService::handle driven directly: constructed AuthContexts, a real
// SQLite store in a temp dir, no sockets. Every refusal the handler can
// give has a case here.
//
// Expected key values were computed independently with python3:
//   ex = bytes(range(48)); rel, ke = ex[:16], ex[16:]
//   base64.b64encode(rel)                                   -> KeID relative part
//   base64.b64encode(hmac.new(ke, b"oneM2M Enrolment Key to Master Credential derivation"
//                    + b"maf.example.com", sha256).digest())  -> Km
//   base64.b64encode(hmac.new(ke, b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation"
//                    + b"/in-cse", sha256).digest())          -> Kpsa
#include <gtest/gtest.h>

#include <fstream>

#include "m2msec/core/encoding.h"
#include "m2msec/mef/mef.h"
#include "m2msec/proto/messages.h"
#include "../service/service_harness.h"

namespace m2msec::mef {
namespace {

using namespace service::testing;
using proto::Operation;
using store::testing::psk_enrolee;

constexpr const char* kKeIdB64 = "AAECAwQFBgcICQoLDA0ODw==@mef.example.com";
constexpr const char* kKmB64 = "KKgjv+aD16z+0uU96nXmPznF/EvD1v/CsqpGkjfc9Ng=";
constexpr const char* kKpsaB64 = "wUlabFv7IIRWKlp39Gol4GOCljssIggpjtkncMrxTFY=";

class MefServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::open_store(dir_.file("mef.db"));
    ASSERT_TRUE(store_);
    MefConfig cfg;
    cfg.listen.fqdn = "mef.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.mafs.push_back({"maf.example.com", "127.0.0.1:4000"});
    svc_ = std::make_unique<MefService>(cfg, *store_, pool_);
    const std::int64_t now = service::now_unix();
    ASSERT_TRUE(store_->mef().add_enrolee(psk_enrolee("/dev-1", "kpm-1"), now));
    store::Enrolee kpsa = psk_enrolee("Cdev-2", "kpm-2");
    kpsa.target_kind = store::TargetKind::kpsa;
    kpsa.target = "/in-cse";
    ASSERT_TRUE(store_->mef().add_enrolee(kpsa, now));
    store::Enrolee cert = store::testing::cert_enrolee("/dev-3", "dev-3.sp.example.com");
    ASSERT_TRUE(store_->mef().add_enrolee(cert, now));
  }

  proto::Request enrol_request(const std::string& from, nlohmann::json body = {{"sec:enr", {{"idm", "maf.example.com"}}}}) {
    return request(Operation::create, "/mef", from, std::move(body), proto::kTyEnrolment);
  }

  // enrol_dev1 enrols /dev-1 with the exporter output 0..47.
  proto::Response enrol_dev1() { return call(*svc_, psk_ctx("kpm-1", exported_bytes(0)), enrol_request("kpm-1")); }

  proto::Request fetch_request(const std::string& id, int suid, const std::string& from) {
    return request(Operation::retrieve,
                   std::string(proto::kMefFetchPrefix) + proto::percent_encode(id) + "/" + std::to_string(suid), from);
  }

  // audit_records reads an audit log: its records, and its whole text.
  static std::pair<std::vector<nlohmann::json>, std::string> audit_records(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> recs;
    std::string text;
    for (std::string l; std::getline(in, l);) {
      recs.push_back(nlohmann::json::parse(l));
      text += l + "\n";
    }
    return {std::move(recs), std::move(text)};
  }

  TempDir dir_;
  service::WorkerPool pool_{2};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MefService> svc_;
};

// Seed 002, "Bootstrap Enrolment Exchange"; Ke and RelativeKeID from the
// exporter (10.3.1).
TEST_F(MefServiceTest, EnrolsAPskEnroleeAndStoresKe) {
  const proto::Response rsp = enrol_dev1();
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::EnrolResponse::from_json(rsp.content);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->enrolee_id, "/dev-1");
  EXPECT_EQ(body->ke_id, kKeIdB64);
  EXPECT_EQ(body->sp_domain, "sp.example.com");
  ASSERT_EQ(body->instructions.size(), 1u);
  EXPECT_EQ(body->instructions[0].target, "maf.example.com");
  EXPECT_EQ(body->instructions[0].key_id, kKeIdB64);
  EXPECT_EQ(body->instructions[0].client_reg_uri, "https://127.0.0.1:4000/maf");
  auto enr = store_->mef().find_enrolment(KeyId::parse(KeyIdKind::ke, kKeIdB64)->canonical(), service::now_unix());
  ASSERT_TRUE(enr) << enr.error().message();
  EXPECT_EQ(hex_encode(enr->ke.view()), "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f");
}

TEST_F(MefServiceTest, EnrolsAKpsaEnroleeWithKpsaForEnroleeB) {
  const proto::Response rsp = call(*svc_, psk_ctx("kpm-2", exported_bytes(0)), enrol_request("kpm-2", {{"sec:enr", nlohmann::json::object()}}));
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::EnrolResponse::from_json(rsp.content);
  ASSERT_TRUE(body);
  ASSERT_EQ(body->instructions.size(), 1u);
  EXPECT_EQ(body->instructions[0].key_id, "000102030405060708090a0b0c0d0e0f@mef.example.com");
  // Enrolee B fetches it with its CSE-ID certificate.
  const proto::Response got =
      call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}),
           fetch_request("000102030405060708090a0b0c0d0e0f@mef.example.com", proto::kSuidKpsa, "/in-cse"));
  ASSERT_EQ(rsc(got), 2000) << dbg(got);
  EXPECT_EQ(got.content["sec:crd"]["kv"], kKpsaB64);
}

TEST_F(MefServiceTest, EnrolsACertificateEnroleeFromItsRoot) {
  const proto::Response rsp = call(*svc_, cert_ctx({}, {"dev-3.sp.example.com"}, kDeviceCa, exported_bytes(0)),
                                   enrol_request("dev-3.sp.example.com"));
  EXPECT_EQ(rsc(rsp), 2001) << dbg(rsp);
}

TEST_F(MefServiceTest, RefusesACertificateFromAnotherRoot) {
  const proto::Response rsp = call(*svc_, cert_ctx({}, {"dev-3.sp.example.com"}, kOtherDeviceCa, exported_bytes(0)),
                                   enrol_request("dev-3.sp.example.com"));
  EXPECT_EQ(rsc(rsp), 4103);
}

TEST_F(MefServiceTest, RefusesAnUnauthenticatedEnrolee) {
  const proto::Response rsp = call(*svc_, anonymous_ctx(), enrol_request("kpm-1"));
  EXPECT_EQ(rsc(rsp), 4107);
}

TEST_F(MefServiceTest, RefusesAnOriginatorThatIsNotTheCredential) {
  const proto::Response rsp = call(*svc_, psk_ctx("kpm-1", exported_bytes(0)), enrol_request("kpm-2"));
  EXPECT_EQ(rsc(rsp), 4103);
}

TEST_F(MefServiceTest, RefusesMalformedEnrolmentBodies) {
  for (const nlohmann::json& body : {nlohmann::json(nullptr), nlohmann::json(5), nlohmann::json{{"sec:enr", 5}},
                                     nlohmann::json{{"sec:enr", {{"idm", 5}}}},
                                     nlohmann::json{{"sec:enr", {{"cei", "yes"}}}},
                                     nlohmann::json{{"sec:enr", {{"idm", std::string(5000, 'a')}}}}}) {
    const proto::Response rsp = call(*svc_, psk_ctx("kpm-1", exported_bytes(0)), enrol_request("kpm-1", body));
    EXPECT_EQ(rsc(rsp), 4000) << body.dump();
  }
}

TEST_F(MefServiceTest, RefusesAnotherMaf) {
  const proto::Response rsp = call(*svc_, psk_ctx("kpm-1", exported_bytes(0)),
                                   enrol_request("kpm-1", {{"sec:enr", {{"idm", "maf2.example.com"}}}}));
  EXPECT_EQ(rsc(rsp), 4103);
}

TEST_F(MefServiceTest, RefusesWithoutExportedKey) {
  const proto::Response rsp = call(*svc_, psk_ctx("kpm-1"), enrol_request("kpm-1"));
  EXPECT_EQ(rsc(rsp), 5000);
}

TEST_F(MefServiceTest, RefusesAnUnknownOrRemovedEnrolee) {
  EXPECT_EQ(rsc(call(*svc_, psk_ctx("kpm-9", exported_bytes(0)), enrol_request("kpm-9"))), 4004);
  ASSERT_TRUE(store_->mef().remove_enrolee("/dev-1"));
  EXPECT_EQ(rsc(enrol_dev1()), 4004);
}

TEST_F(MefServiceTest, RefusesOtherOperationsAndPaths) {
  auto ctx = psk_ctx("kpm-1", exported_bytes(0));
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::retrieve, "/mef", "kpm-1"))), 4005);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::create, "/mef", "kpm-1", nullptr, 2))), 4005);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::create, "/other", "kpm-1"))), 4004);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::del, "/mef/fetchCredentials/x/21", "kpm-1"))), 4005);
}

// 8.3.2.1 step f): the MAF fetches Km with /fetchCredentials/<KeID>/<SUID>.
TEST_F(MefServiceTest, GivesKmToTheEnroleesMaf) {
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  const proto::Response rsp =
      call(*svc_, cert_ctx({}, {"maf.example.com"}), fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"));
  ASSERT_EQ(rsc(rsp), 2000) << dbg(rsp);
  auto cred = proto::CredentialResponse::from_json(rsp.content);
  ASSERT_TRUE(cred) << cred.error().message();
  EXPECT_EQ(base64_encode(cred->key.view()), kKmB64);
  EXPECT_EQ(cred->enrolee_id, "/dev-1");
}

TEST_F(MefServiceTest, RefusesKmToAnyoneElse) {
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  // Another MAF, authenticated as itself.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf2.example.com"}),
                     fetch_request(kKeIdB64, proto::kSuidMafKm, "maf2.example.com"))),
            4103);
  // A MAF claiming another MAF's name.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf2.example.com"}),
                     fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))),
            4103);
  // A PSK session (the enrolee itself).
  EXPECT_EQ(rsc(call(*svc_, psk_ctx("kpm-1"), fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))), 4103);
}

TEST_F(MefServiceTest, RefusesUnknownRemovedOrMalformedKeIds) {
  auto maf = cert_ctx({}, {"maf.example.com"});
  EXPECT_EQ(rsc(call(*svc_, maf, fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))), 4004);
  EXPECT_EQ(rsc(call(*svc_, maf, fetch_request("not-a-keid", proto::kSuidMafKm, "maf.example.com"))), 4000);
  EXPECT_EQ(rsc(call(*svc_, maf, request(Operation::retrieve, "/mef/fetchCredentials/abc", "maf.example.com"))), 4000);
  EXPECT_EQ(rsc(call(*svc_, maf, request(Operation::retrieve, "/mef/fetchCredentials/%zz/21", "maf.example.com"))),
            4000);
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  ASSERT_TRUE(store_->mef().remove_enrolee("/dev-1"));
  EXPECT_EQ(rsc(call(*svc_, maf, fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))), 4004);
}

// Issue 9: a raw 0xFF byte in the SUID went into the error text and made
// the JSON encoder throw, killing the process.
TEST_F(MefServiceTest, QuotesRawBytesInErrors) {
  auto maf = cert_ctx({}, {"maf.example.com"});
  const proto::Response rsp =
      call(*svc_, maf, request(Operation::retrieve, "/mef/fetchCredentials/x/\xff\n", "maf.example.com"));
  EXPECT_EQ(rsc(rsp), 4000);
  EXPECT_EQ(dbg(rsp), "unsupported SUID \\xff\\x0a");
  EXPECT_NO_THROW((void)rsp.content.dump());
}

TEST_F(MefServiceTest, RefusesKpsaToAnyoneButEnroleeB) {
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-2", exported_bytes(0)), enrol_request("kpm-2", {{"sec:enr", nlohmann::json::object()}}))), 2001);
  const std::string id = "000102030405060708090a0b0c0d0e0f@mef.example.com";
  // Another CSE.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), fetch_request(id, proto::kSuidKpsa, "/mn-cse"))),
            4103);
  // Claiming /in-cse without its certificate.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), fetch_request(id, proto::kSuidKpsa, "/in-cse"))),
            4103);
  // The MAF asking for a Kpsa enrolee's Km.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}), fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))),
            4103);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}), fetch_request("bad id@mef.example.com", proto::kSuidKpsa, "/in-cse"))),
            4000);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}), fetch_request("00ff@mef.example.com", proto::kSuidKpsa, "/in-cse"))),
            4004);
}

// Issue 11 item 3: "a CA trusted to vouch for devices must not be able to
// vouch for a MAF". The same names from a device anchor (or an anchor in
// no set) get no Km and no Kpsa.
TEST_F(MefServiceTest, RefusesKeysToInfrastructureNamesFromADeviceAnchor) {
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-2", exported_bytes(100)), enrol_request("kpm-2", {{"sec:enr", nlohmann::json::object()}}))), 2001);
  const std::string kpsa_id = "6465666768696a6b6c6d6e6f70717273@mef.example.com";  // hex(bytes 100..115)
  for (const std::string& anchor : {kDeviceCa, kOtherDeviceCa, std::string("sha256:") + std::string(64, '9')}) {
    const proto::Response km = call(*svc_, cert_ctx({}, {"maf.example.com"}, anchor),
                                    fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"));
    EXPECT_EQ(rsc(km), 4103) << anchor;
    EXPECT_EQ(dbg(km), "key retrieval needs a certificate from an infrastructure trust anchor");
    EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}, anchor),
                       fetch_request(kpsa_id, proto::kSuidKpsa, "/in-cse"))),
              4103)
        << anchor;
  }
  // The same names from the infrastructure anchor are served.
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}, kInfraCa),
                     fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))),
            2000);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}, kInfraCa),
                     fetch_request(kpsa_id, proto::kSuidKpsa, "/in-cse"))),
            2000);
}

// An enrolee certificate must come from a device anchor: an
// infrastructure CA (here naming the enrolee's subject) enrols nobody.
TEST_F(MefServiceTest, RefusesAnEnroleeCertificateFromAnInfrastructureAnchor) {
  const proto::Response rsp = call(*svc_, cert_ctx({}, {"dev-3.sp.example.com"}, kInfraCa, exported_bytes(0)),
                                   enrol_request("dev-3.sp.example.com"));
  EXPECT_EQ(rsc(rsp), 4103);
  EXPECT_EQ(dbg(rsp), "enrolee certificate is not from a device trust anchor");
}

// A row written before fingerprints (its root of trust a CN) never
// matches, even a chain whose anchor has that CN.
TEST_F(MefServiceTest, ALegacyCnRootOfTrustNeverMatches) {
  {
    store::SqliteConn c = store::testing::open_writer(dir_.file("mef.db"));
    Result<store::sql::Stmt> s = c.prepare(
        "INSERT INTO enrolees (enrolee_id, auth_kind, cert_subject, cert_trust_anchor, target_kind, target, "
        "created_at, state) VALUES ('/dev-4', 'cert', 'dev-4.sp.example.com', 'factory CA', 'maf', "
        "'maf.example.com', 1, 'active')");
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->run());
  }
  auto ctx = std::make_shared<service::AuthContext>();
  ctx->peer.kind = tls::PeerIdentity::Kind::certificate;
  ctx->peer.dns_names = {"dev-4.sp.example.com"};
  ctx->peer.trust_anchor = kDeviceCa;
  ctx->peer.trust_anchor_cn = "factory CA";
  ctx->peer.anchor_role = tls::AnchorRole::device;
  ctx->exported = exported_bytes(0);
  const proto::Response rsp = call(*svc_, ctx, enrol_request("dev-4.sp.example.com"));
  EXPECT_EQ(rsc(rsp), 4103) << dbg(rsp);
  EXPECT_EQ(dbg(rsp), "certificate is not from the enrolee's configured root of trust");
}

TEST_F(MefServiceTest, RefusesAnExpiredEnrolment) {
  store::Enrolee e = psk_enrolee("/dev-9", "kpm-9");
  // Two seconds ahead, so that a second boundary between here and the
  // enrolment cannot expire it first (as one second could, under load).
  e.expires_at = service::now_unix() + 2;
  ASSERT_TRUE(store_->mef().add_enrolee(e, service::now_unix()));
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-9", exported_bytes(0)), enrol_request("kpm-9"))), 2001);
  while (service::now_unix() <= *e.expires_at) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}), fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))),
            4103);
}

TEST_F(MefServiceTest, PskLookupResolvesKnownKpmIdsOnly) {
  auto lookup = [&](const std::string& id) {
    std::promise<Result<SecretBytes>> p;
    auto f = p.get_future();
    svc_->psk_lookup(tls::PskRequest{id, "mef.example.com"}, [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
    return f.get();
  };
  auto ok = lookup("kpm-1");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 32u);
  auto bad = lookup("kpm-unknown\n\x1b[31m");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::unknown_psk_identity);
}

// After its handshake read the enrolee, the session's enrolment is served
// without a second read: same answer, same durable Ke, and the enrolee's
// expiry still caps the enrolment. A repeated enrolment replaces Ke.
TEST_F(MefServiceTest, EnrolsFromWhatTheHandshakeRead) {
  std::promise<Result<SecretBytes>> p;
  svc_->psk_lookup(tls::PskRequest{"kpm-1", "mef.example.com"},
                   [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get());
  const proto::Response rsp = enrol_dev1();
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::EnrolResponse::from_json(rsp.content);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->ke_id, kKeIdB64);
  EXPECT_EQ(body->enrolee_id, "/dev-1");
  auto enr = store_->mef().find_enrolment(KeyId::parse(KeyIdKind::ke, kKeIdB64)->canonical(), service::now_unix());
  ASSERT_TRUE(enr) << enr.error().message();
  EXPECT_EQ(hex_encode(enr->ke.view()), "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f");
  // The same checks apply on this path: another MAF is refused.
  EXPECT_EQ(rsc(call(*svc_, psk_ctx("kpm-1", exported_bytes(0)),
                     enrol_request("kpm-1", {{"sec:enr", {{"idm", "maf2.example.com"}}}}))),
            4103);
  // And the enrolment is acknowledged only once durable: an enrolee removed
  // after its handshake is refused at the commit.
  ASSERT_TRUE(store_->mef().remove_enrolee("/dev-1"));
  EXPECT_EQ(rsc(enrol_dev1()), 4004);
}

}  // namespace
}  // namespace m2msec::mef

namespace m2msec::mef {
namespace {

// Issue 11 item 5 (docs/audit.md): the MEF records the Ke it grants at
// enrolment, the Km it gives a MAF, and the class of each refusal, by key
// identifier only.
// docs/protocol.md "Batches of Km fetches": the session and From are
// checked once for the whole request; each entry is answered with the RSC
// and content its own RETRIEVE would have had.
TEST_F(MefServiceTest, AnswersABatchOfKmFetchesEachAsItsOwnRetrieveWould) {
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-2", exported_bytes(100)),
                     enrol_request("kpm-2", {{"sec:enr", nlohmann::json::object()}}))),
            2001);
  const std::string kpsa_ke_id = "ZGVmZ2hpamtsbW5vcHFycw==@mef.example.com";  // base64(bytes 100..115)
  auto batch = [](std::vector<proto::CredentialFetchBatch::Entry> entries, const std::string& from) {
    return request(Operation::create, std::string(proto::kMefFetchBatchPath), from,
                   proto::CredentialFetchBatch{std::move(entries)}.to_json(), proto::kTyCredentialFetch);
  };
  const auto maf = cert_ctx({}, {"maf.example.com"});
  const proto::Response rsp = call(*svc_, maf,
                                   batch({{kKeIdB64, ""},
                                          {"EBESExQVFhcYGRobHB0eHw==@mef.example.com", ""},
                                          {"not-a-keid", ""},
                                          {kKeIdB64, "zz"},
                                          {kpsa_ke_id, ""},
                                          {kKeIdB64, "01000100ae"}},
                                         "maf.example.com"));
  ASSERT_EQ(rsc(rsp), 2000) << dbg(rsp);
  auto results = proto::CredentialFetchResults::from_json(rsp.content);
  ASSERT_TRUE(results) << results.error().message();
  std::vector<int> codes;
  for (const auto& e : results->entries) codes.push_back(e.rsc);
  EXPECT_EQ(codes, (std::vector<int>{2000, 4004, 4000, 4000, 4103, 2000}));
  for (std::size_t i : {0u, 5u}) {  // a ua is ignored for a KeID of the exporter, as on RETRIEVE
    auto cred = proto::CredentialResponse::from_json(results->entries[i].content);
    ASSERT_TRUE(cred) << cred.error().message();
    EXPECT_EQ(base64_encode(cred->key.view()), kKmB64);
    EXPECT_EQ(cred->enrolee_id, "/dev-1");
  }
  EXPECT_EQ(results->entries[1].content["m2m:dbg"], "KeID not found");
  EXPECT_EQ(results->entries[4].content["m2m:dbg"], "requester is not the enrolee's MAF");
  // The same entries one by one give the same codes.
  const std::vector<std::string> singles = {kKeIdB64, "EBESExQVFhcYGRobHB0eHw==@mef.example.com", "not-a-keid"};
  for (std::size_t i = 0; i < singles.size(); ++i) {
    EXPECT_EQ(rsc(call(*svc_, maf, fetch_request(singles[i], proto::kSuidMafKm, "maf.example.com"))), codes[i]);
  }

  // Whole-request refusals.
  const std::vector<proto::CredentialFetchBatch::Entry> one = {{kKeIdB64, ""}};
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf2.example.com"}), batch(one, "maf.example.com"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx("kpm-1"), batch(one, "maf.example.com"))), 4103);
  const proto::Response device_anchor = call(*svc_, cert_ctx({}, {"maf.example.com"}, kDeviceCa), batch(one, "maf.example.com"));
  EXPECT_EQ(rsc(device_anchor), 4103);
  EXPECT_EQ(dbg(device_anchor), "key retrieval needs a certificate from an infrastructure trust anchor");
  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {nlohmann::json::object(), "malformed message: missing object sec:fcb"},
      {{{"sec:fcb", {{"fcr", nlohmann::json::array()}}}}, "malformed message: sec:fcb.fcr has fewer than 1 elements"},
      {{{"sec:fcb", {{"fcr", std::vector<nlohmann::json>(proto::kMaxFetchBatch + 1, {{"kid", kKeIdB64}})}}}},
       "malformed message: sec:fcb.fcr has more than 64 elements"},
  };
  for (const auto& [body, why] : bad) {
    const proto::Response r = call(*svc_, maf, request(Operation::create, std::string(proto::kMefFetchBatchPath),
                                                        "maf.example.com", body, proto::kTyCredentialFetch));
    EXPECT_EQ(rsc(r), 4000) << body.dump();
    EXPECT_EQ(dbg(r), why);
  }
  EXPECT_EQ(rsc(call(*svc_, maf, request(Operation::retrieve, std::string(proto::kMefFetchBatchPath), "maf.example.com"))),
            4005);
  EXPECT_EQ(rsc(call(*svc_, maf, request(Operation::create, std::string(proto::kMefFetchBatchPath), "maf.example.com",
                                         proto::CredentialFetchBatch{one}.to_json(), proto::kTyEnrolment))),
            4005);
}

// Each refused entry of a batch is audited as its own RETRIEVE; each
// granted one as a Km grant.
TEST_F(MefServiceTest, AuditsEachEntryOfABatchOfKmFetches) {
  auto log = service::AuditLog::open(dir_.file("audit-batch.jsonl"), "mef");
  ASSERT_TRUE(log) << log.error().message();
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  svc_->set_audit(log->get());
  const proto::Response rsp = call(
      *svc_, cert_ctx({}, {"maf.example.com"}),
      request(Operation::create, std::string(proto::kMefFetchBatchPath), "maf.example.com",
              proto::CredentialFetchBatch{{{kKeIdB64, ""}, {"EBESExQVFhcYGRobHB0eHw==@mef.example.com", ""}}}.to_json(),
              proto::kTyCredentialFetch));
  svc_->set_audit(nullptr);
  ASSERT_EQ(rsc(rsp), 2000);
  const auto [recs, text] = audit_records((*log)->path());
  ASSERT_EQ(recs.size(), 2u) << text;
  EXPECT_EQ(recs[0]["event"], "grant");
  EXPECT_EQ(recs[0]["kind"], "km");
  EXPECT_EQ(recs[0]["key_id"], kKeIdB64);
  EXPECT_EQ(recs[0]["to"], "maf.example.com");
  EXPECT_EQ(recs[1]["event"], "refusal");
  EXPECT_EQ(recs[1]["reason"], "unknown_key");
  EXPECT_EQ(recs[1]["rsc"], 4004);
  EXPECT_EQ(recs[1]["to"], "maf.example.com");
  EXPECT_EQ(recs[1]["resource"], std::string(proto::kMefFetchPrefix) + "EBESExQVFhcYGRobHB0eHw%3D%3D%40mef.example.com/21");
  EXPECT_EQ(text.find(kKmB64), std::string::npos);
}

TEST_F(MefServiceTest, AuditsGrantsAndRefusalsByIdentifierOnly) {
  auto log = service::AuditLog::open(dir_.file("audit.jsonl"), "mef");
  ASSERT_TRUE(log) << log.error().message();
  svc_->set_audit(log->get());
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  ASSERT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}),
                     fetch_request(kKeIdB64, proto::kSuidMafKm, "maf.example.com"))),
            2000);
  ASSERT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf2.example.com"}),
                     fetch_request(kKeIdB64, proto::kSuidMafKm, "maf2.example.com"))),
            4103);
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-1", exported_bytes(0)), enrol_request("kpm-2"))), 4103);
  svc_->set_audit(nullptr);

  const auto [recs, text] = audit_records((*log)->path());
  ASSERT_EQ(recs.size(), 4u) << text;
  EXPECT_EQ(recs[0]["role"], "mef");
  EXPECT_EQ(recs[0]["event"], "grant");
  EXPECT_EQ(recs[0]["kind"], "ke");
  EXPECT_EQ(recs[0]["key_id"], kKeIdB64);
  EXPECT_EQ(recs[0]["to"], "/dev-1");
  EXPECT_EQ(recs[0]["framework"], "rsp");
  EXPECT_TRUE(recs[0]["expires_at"].is_number_integer());
  EXPECT_EQ(recs[1]["kind"], "km");
  EXPECT_EQ(recs[1]["key_id"], kKeIdB64);
  EXPECT_EQ(recs[1]["to"], "maf.example.com");
  EXPECT_EQ(recs[1]["entity"], "/dev-1");
  EXPECT_EQ(recs[2]["event"], "refusal");
  EXPECT_EQ(recs[2]["reason"], "not_target");
  EXPECT_EQ(recs[2]["to"], "maf2.example.com");
  EXPECT_EQ(recs[3]["reason"], "no_privilege");
  EXPECT_EQ(recs[3]["key_id"], "kpm-1");
  // Neither Km nor Ke (exporter bytes 16..47) in any encoding.
  EXPECT_EQ(text.find(kKmB64), std::string::npos);
  const SecretBytes ex = exported_bytes(0);
  const std::string ke_hex = hex_encode(ex.view().subspan(16));
  EXPECT_EQ(text.find(ke_hex), std::string::npos);
  EXPECT_EQ(text.find(base64_encode(ex.view().subspan(16))), std::string::npos);
}

}  // namespace
}  // namespace m2msec::mef

namespace m2msec::mef {
namespace {

// docs/protocol.md §3.7: the MEF's revocation feed. A MAF sees the
// entries naming its FQDN, an Enrolee B those naming its CSE-ID; every
// refusal the handler gives has a case.
TEST_F(MefServiceTest, ServesTheRevocationFeedToEachHolderItsOwnEntries) {
  ASSERT_EQ(rsc(enrol_dev1()), 2001);
  ASSERT_EQ(rsc(call(*svc_, psk_ctx("kpm-2", exported_bytes(100)),
                     enrol_request("kpm-2", {{"sec:enr", nlohmann::json::object()}}))),
            2001);
  ASSERT_TRUE(store_->mef().remove_enrolee("/dev-1"));
  ASSERT_TRUE(store_->mef().revoke_enrolment("Cdev-2"));
  auto feed = [&](const AuthRef& ctx, const std::string& from, const std::string& after = "0") {
    return call(*svc_, ctx, request(Operation::retrieve, std::string(proto::kMefRevocationsPrefix) + after, from));
  };
  const proto::Response maf = feed(cert_ctx({}, {"MAF.example.com"}), "maf.example.com");
  ASSERT_EQ(rsc(maf), 2000) << dbg(maf);
  auto m = proto::RevocationFeed::from_json(maf.content);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->entries.size(), 1u);
  EXPECT_EQ(m->entries[0].key_id, kKeIdB64);
  EXPECT_EQ(m->entries[0].entity_id, "/dev-1");
  EXPECT_EQ(m->head, 2);
  const proto::Response b = feed(cert_ctx({}, {"in-cse.sp.example.com"}), "/in-cse");
  ASSERT_EQ(rsc(b), 2000) << dbg(b);
  auto k = proto::RevocationFeed::from_json(b.content);
  ASSERT_TRUE(k);
  ASSERT_EQ(k->entries.size(), 1u);
  EXPECT_EQ(k->entries[0].kpsa_id, "6465666768696a6b6c6d6e6f70717273@mef.example.com");
  // Another MAF sees nothing; the head only with -1.
  auto other = proto::RevocationFeed::from_json(feed(cert_ctx({}, {"maf2.example.com"}), "maf2.example.com").content);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->entries.empty());
  auto head = proto::RevocationFeed::from_json(feed(cert_ctx({}, {"maf.example.com"}), "maf.example.com", "-1").content);
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->entries.empty());
  EXPECT_EQ(head->head, 2);

  // Refusals.
  EXPECT_EQ(rsc(feed(psk_ctx("kpm-1"), "maf.example.com")), 4103);                          // not a certificate
  EXPECT_EQ(rsc(feed(cert_ctx({}, {"maf2.example.com"}), "maf.example.com")), 4103);          // another's name
  EXPECT_EQ(rsc(feed(cert_ctx({}, {"maf.example.com"}, kDeviceCa), "maf.example.com")), 4103);  // device anchor
  EXPECT_EQ(rsc(feed(cert_ctx({}, {"in-cse.sp.example.com"}, kDeviceCa), "/in-cse")), 4103);
  for (const char* bad : {"", "x", "-2", "1.5", "99999999999999999999", "1/2"}) {
    EXPECT_EQ(rsc(feed(cert_ctx({}, {"maf.example.com"}), "maf.example.com", bad)), 4000) << bad;
  }
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"maf.example.com"}),
                     request(Operation::del, std::string(proto::kMefRevocationsPrefix) + "0", "maf.example.com"))),
            4005);
}

}  // namespace
}  // namespace m2msec::mef
