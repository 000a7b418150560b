// EntityB driven directly: constructed AuthContexts, no sockets. The
// session binding (on_session_start) and every refusal of handle().
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <tuple>

#include "m2msec/core/encoding.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/proto/messages.h"
#include "../service/service_harness.h"
#include "../store/test_util.h"

namespace m2msec::entityb {
namespace {

using namespace service::testing;
using proto::Operation;

constexpr const char* kKpsaId = "dev-5.kpsa@sp.example.com";

class EntityBTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CseConfig cfg;
    cfg.listen.fqdn = "in-cse.sp.example.com";
    cfg.sp_domain = "sp.example.com";
    cfg.cse_id = "/in-cse";
    cfg.csebase = "in-name";
    cfg.mafs.push_back({"maf.example.com", "127.0.0.1:1"});
    std::map<std::string, CachedKey> provisioned;
    provisioned[KeyId::parse(KeyIdKind::kpsa, kKpsaId)->canonical()] =
        CachedKey{store::testing::secret_of(0x55), "/dev-5", 0, false, "", "", 0};
    svc_ = std::make_unique<EntityB>(cfg, pool_, nullptr, std::move(provisioned));
    // The CSE behind the acceptor, on a real store.
    store_ = store::testing::open_store(dir_.file("cse.db"));
    ASSERT_TRUE(store_);
    auto c = cse::Cse::open(cse::Settings{cfg.cse_id, cfg.csebase, cfg.sp_domain, {}}, store_->resources(), 1767225600);
    ASSERT_TRUE(c) << c.error().message();
    cse_ = std::move(*c);
    svc_->set_next(local_cse(*cse_, pool_));
  }

  // session runs on_session_start for a PSK session with |identity|.
  AuthRef session(const std::string& identity) {
    service::AuthContext ctx;
    ctx.peer.kind = tls::PeerIdentity::Kind::psk;
    ctx.peer.psk_identity = identity;
    ctx.key_id = identity;
    svc_->on_session_start(ctx);
    return std::make_shared<service::AuthContext>(std::move(ctx));
  }

  proto::Response create_ae(const AuthRef& ctx, nlohmann::json body, const std::string& from = "/dev-5") {
    return call(*svc_, ctx, request(Operation::create, "/in-name", from, std::move(body), 2));
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<cse::Cse> cse_;
  service::WorkerPool pool_{2};
  std::unique_ptr<EntityB> svc_;
};

TEST_F(EntityBTest, BindsAKpsaSessionToItsEntity) { EXPECT_EQ(session(kKpsaId)->entity_id, "/dev-5"); }

TEST_F(EntityBTest, BindsACertificateSessionToItsCseId) {
  service::AuthContext ctx;
  ctx.peer.kind = tls::PeerIdentity::Kind::certificate;
  ctx.peer.dns_names = {"mn-cse.sp.example.com"};
  ctx.peer.anchor_role = tls::AnchorRole::device;
  svc_->on_session_start(ctx);
  EXPECT_EQ(ctx.entity_id, "/mn-cse");
}

// Issue 11 item 3: in the certificate SAEF Entity A is a device, vouched
// for by a device anchor; an infrastructure certificate (a MAF's, or one
// naming a CSE) binds the session to nobody.
TEST_F(EntityBTest, BindsACertificateSessionOnlyFromADeviceAnchor) {
  for (const tls::AnchorRole role : {tls::AnchorRole::infrastructure, tls::AnchorRole::none}) {
    service::AuthContext ctx;
    ctx.peer.kind = tls::PeerIdentity::Kind::certificate;
    ctx.peer.dns_names = {"mn-cse.sp.example.com"};
    ctx.peer.san_uris = {"//sp.example.com/Sae-1"};
    ctx.peer.anchor_role = role;
    svc_->on_session_start(ctx);
    EXPECT_EQ(ctx.entity_id, "") << tls::anchor_role_name(role);
  }
}

TEST_F(EntityBTest, BindsNothingForAnUnknownKey) { EXPECT_EQ(session("other@sp.example.com")->entity_id, ""); }

TEST_F(EntityBTest, ServesTheCseBaseAndAes) {
  auto ctx = session(kKpsaId);
  const proto::Response cb = call(*svc_, ctx, request(Operation::retrieve, "/in-name", "/dev-5"));
  ASSERT_EQ(rsc(cb), 2000);
  EXPECT_EQ(cb.content["m2m:cb"]["csi"], "/in-cse");
  const proto::Response made = create_ae(ctx, {{"m2m:ae", {{"rn", "light"}, {"api", "Napp"}, {"rr", true}}}});
  ASSERT_EQ(rsc(made), 2001) << dbg(made);
  EXPECT_EQ(made.content["m2m:ae"]["aei"], "/dev-5");
  EXPECT_EQ(made.content["m2m:ae"]["api"], "Napp");
  EXPECT_EQ(made.content["m2m:ae"]["rr"], true);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::retrieve, "/in-name/light", "/dev-5"))), 2000);
  EXPECT_EQ(rsc(create_ae(ctx, {{"m2m:ae", {{"rn", "light"}}}})), 4105);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::retrieve, "/in-name/dark", "/dev-5"))), 4004);
}

// Issue 9: each of these bodies made nlohmann's value() throw and killed
// every role in the process.
TEST_F(EntityBTest, RefusesAeBodiesOfTheWrongTypes) {
  auto ctx = session(kKpsaId);
  for (const nlohmann::json& body :
       {nlohmann::json{{"m2m:ae", {{"rn", 5}}}}, nlohmann::json{{"m2m:ae", {{"api", 5}}}},
        nlohmann::json{{"m2m:ae", {{"rr", "yes"}}}}, nlohmann::json{{"m2m:ae", 5}}, nlohmann::json(nullptr),
        nlohmann::json::array(), nlohmann::json{{"m2m:ae", {{"rn", "a/b"}}}},
        nlohmann::json{{"m2m:ae", {{"rn", "bad\nname"}}}}, nlohmann::json{{"m2m:ae", {{"rn", std::string(65, 'a')}}}}}) {
    EXPECT_EQ(rsc(create_ae(ctx, body)), 4000) << body.dump();
  }
}

TEST_F(EntityBTest, NullResourceNameMeansTheDefault) {
  const proto::Response made = create_ae(session(kKpsaId), {{"m2m:ae", {{"rn", nullptr}}}});
  ASSERT_EQ(rsc(made), 2001) << dbg(made);
  EXPECT_EQ(made.content["m2m:ae"]["rn"], "dev-5");
}

TEST_F(EntityBTest, WithoutANextStageRequestsAreNotServed) {
  svc_->set_next(nullptr);
  EXPECT_EQ(rsc(call(*svc_, session(kKpsaId), request(Operation::retrieve, "/in-name", "/dev-5"))), 5001);
}

// The session's peer address reaches the CSE (TS-0003 7.1.2 rq_ip).
TEST_F(EntityBTest, HandsTheBoundIdentityAndAddressToTheNextStage) {
  cse::Originator seen;
  svc_->set_next([&seen](const cse::Originator& from, const proto::Request& req, proto::Reply reply) {
    seen = from;
    reply(proto::ok_response(req, proto::Rsc::ok, nullptr));
  });
  service::AuthContext ctx;
  ctx.peer.kind = tls::PeerIdentity::Kind::psk;
  ctx.peer.psk_identity = kKpsaId;
  ctx.peer.address = "192.0.2.7";
  svc_->on_session_start(ctx);
  auto ref = std::make_shared<service::AuthContext>(std::move(ctx));
  EXPECT_EQ(rsc(call(*svc_, ref, request(Operation::retrieve, "/in-name", "/dev-5"))), 2000);
  EXPECT_EQ(seen.id, "/dev-5");
  EXPECT_TRUE(seen.authenticated);
  EXPECT_EQ(seen.ip, "192.0.2.7");
}

// A session bound to the hosting CSE's own CSE-ID (a key or certificate
// that names it) is refused: the CSEBase's policy names that ID.
TEST_F(EntityBTest, RefusesTheHostingCsesOwnId) {
  std::map<std::string, CachedKey> provisioned;
  provisioned[KeyId::parse(KeyIdKind::kpsa, "self@sp.example.com")->canonical()] =
      CachedKey{store::testing::secret_of(0x56), "/in-cse", 0, false, "", "", 0};
  provisioned[KeyId::parse(KeyIdKind::kpsa, "self2@sp.example.com")->canonical()] =
      CachedKey{store::testing::secret_of(0x57), "//SP.example.com/in-cse", 0, false, "", "", 0};
  CseConfig cfg;
  cfg.sp_domain = "sp.example.com";
  cfg.cse_id = "/in-cse";
  cfg.csebase = "in-name";
  EntityB b(cfg, pool_, nullptr, std::move(provisioned));
  b.set_next(local_cse(*cse_, pool_));
  for (const char* id : {"self@sp.example.com", "self2@sp.example.com"}) {
    service::AuthContext ctx;
    ctx.peer.kind = tls::PeerIdentity::Kind::psk;
    ctx.peer.psk_identity = id;
    b.on_session_start(ctx);
    const std::string as = ctx.entity_id;
    EXPECT_EQ(rsc(call(b, std::make_shared<service::AuthContext>(std::move(ctx)),
                       request(Operation::retrieve, "/in-name", as))),
              4103)
        << id;
  }
}

// Gateway mode: the request reaches the upstream with X-M2M-Origin set
// from the bound identity and its own request ID; the answer comes back
// under the device's; an upstream that does not answer in time is 5103.
TEST_F(EntityBTest, TheUpstreamStageForwardsAsTheBoundIdentity) {
  proto::Request seen;
  std::atomic<bool> answer{true};
  auto up = service::PlainHttpServer::start(
      "127.0.0.1:0", "up", [&](const AuthRef&, const proto::Request& req, proto::Reply reply) {
        seen = req;
        if (answer) reply(proto::ok_response(req, proto::Rsc::ok, {{"m2m:cb", {{"csi", "/in-cse"}}}}));
        // else: never answered (the gateway's deadline decides)
      });
  ASSERT_TRUE(up) << up.error().message();
  UpstreamSettings u;
  u.address = "127.0.0.1:" + std::to_string((*up)->port());
  u.host = "in-cse.internal";
  u.timeout = std::chrono::milliseconds(300);
  svc_->set_next(upstream_cse(u, pool_));
  proto::Request req = request(Operation::retrieve, "/in-name", "/dev-5");
  req.rqi = "device-rqi";
  const proto::Response r = call(*svc_, session(kKpsaId), req);
  EXPECT_EQ(rsc(r), 2000);
  EXPECT_EQ(r.rqi, "device-rqi");
  EXPECT_EQ(r.content["m2m:cb"]["csi"], "/in-cse");
  EXPECT_EQ(seen.from, "/dev-5");
  EXPECT_EQ(seen.to, "/in-name");
  answer = false;
  EXPECT_EQ(rsc(call(*svc_, session(kKpsaId), req)), 5103);
  (*up)->stop();
}

// The gateway listener's handler: Origin is the originator, authenticated
// by the gateway; one that is no CSE-ID/AE-ID is 4000.
TEST_F(EntityBTest, TheTrustedGatewayHandlerTakesTheOrigin) {
  cse::Originator seen;
  auto h = trusted_gateway([&](const cse::Originator& from, const proto::Request& req, proto::Reply reply) {
    seen = from;
    reply(proto::ok_response(req, proto::Rsc::ok, nullptr));
  });
  auto run = [&](const std::string& from) {
    std::promise<proto::Response> p;
    h(anonymous_ctx(), request(Operation::retrieve, "/in-name", from), [&p](proto::Response r) { p.set_value(r); });
    return static_cast<int>(p.get_future().get().rsc);
  };
  EXPECT_EQ(run("Cae7"), 2000);
  EXPECT_EQ(seen.id, "Cae7");
  EXPECT_TRUE(seen.authenticated);
  EXPECT_FALSE(seen.ip);
  EXPECT_EQ(run("not an id"), 4000);
  EXPECT_EQ(run(""), 4000);
}

// [cse] (docs/configuration.md): the resource tree needs data_dir unless
// in gateway mode; gateway_listen and [cse.upstream] exclude each other;
// both addresses are checked.
TEST(CseConfigTest, ReadsTheStoreAndGatewayKeys) {
  store::testing::TempDir dir;
  auto load = [&](const std::string& extra) {
    const std::string path = dir.file("cse.toml");
    std::ofstream(path) << "[cse]\nfqdn = \"in-cse.sp.example.com\"\nsp_domain = \"sp.example.com\"\n"
                           "cse_id = \"/in-cse\"\n" << extra;
    auto file = service::ConfigFile::load(path);
    EXPECT_TRUE(file);
    return load_cse_config(*file);
  };
  auto ok = load("data_dir = \"d\"\ngateway_listen = \"127.0.0.1:7580\"\n");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->data_dir, dir.path() + "/d");
  EXPECT_EQ(ok->gateway_listen, "127.0.0.1:7580");
  EXPECT_FALSE(ok->upstream);
  auto gw = load("[cse.upstream]\naddress = \"10.0.0.5:8080\"\n");
  ASSERT_TRUE(gw) << gw.error().message();
  EXPECT_EQ(gw->upstream->host, "10.0.0.5");
  EXPECT_EQ(gw->upstream->timeout, std::chrono::milliseconds(5000));
  for (const char* bad : {"", "data_dir = \"d\"\ngateway_listen = \"nowhere\"\n",
                          "gateway_listen = \"127.0.0.1:1\"\n[cse.upstream]\naddress = \"10.0.0.5:8080\"\n",
                          "[cse.upstream]\naddress = \"no-port\"\n", "[cse.upstream]\nhost = \"x\"\n",
                          "[cse.upstream]\naddress = \"10.0.0.5:8080\"\ntimeout_ms = 1\n"}) {
    auto r = load(bad);
    EXPECT_FALSE(r) << bad;
  }
}

TEST(CseOpenTest, RefusesSettingsThatNameNoCse) {
  store::testing::TempDir dir;
  auto st = store::testing::open_store(dir.file("cse.db"));
  ASSERT_TRUE(st);
  for (const cse::Settings& s : {cse::Settings{"in-cse", "cb", "sp.example.com", {}},
                                 cse::Settings{"/in-cse/x", "cb", "sp.example.com", {}},
                                 cse::Settings{"/in-cse", "", "sp.example.com", {}}}) {
    auto c = cse::Cse::open(s, st->resources(), 1767225600);
    ASSERT_FALSE(c) << s.cse_id << " " << s.csebase;
    EXPECT_EQ(c.error().code(), Errc::invalid_argument);
  }
}

TEST_F(EntityBTest, RefusesUnboundSessionsAndSpoofedOriginators) {
  EXPECT_EQ(rsc(call(*svc_, session("other@sp.example.com"), request(Operation::retrieve, "/in-name", "/dev-5"))),
            4107);
  EXPECT_EQ(rsc(call(*svc_, anonymous_ctx(), request(Operation::retrieve, "/in-name", ""))), 4107);
  EXPECT_EQ(rsc(call(*svc_, session(kKpsaId), request(Operation::retrieve, "/in-name", "/dev-6"))), 4103);
}

// The acceptor hands the request on with the bound identity: the CSE's
// access decision applies (its CSEBase policy grants RETRIEVE only).
TEST_F(EntityBTest, RefusesOtherOperationsAndPaths) {
  auto ctx = session(kKpsaId);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::create, "/in-name", "/dev-5", {{"m2m:cnt", {}}}, 3))), 4103);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::del, "/in-name", "/dev-5"))), 4005);
  EXPECT_EQ(rsc(call(*svc_, ctx, request(Operation::retrieve, "/elsewhere", "/dev-5"))), 4004);
}

TEST_F(EntityBTest, PskLookupKnowsProvisionedKeysAndRefusesTheRest) {
  auto lookup = [&](const std::string& id) {
    std::promise<Result<SecretBytes>> p;
    auto f = p.get_future();
    svc_->psk_lookup(tls::PskRequest{id, "in-cse.sp.example.com"},
                     [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
    return f.get();
  };
  auto ok = lookup(kKpsaId);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 32u);
  EXPECT_FALSE(lookup("not a key id"));
  EXPECT_FALSE(lookup("other@unknown-issuer.example.com"));
  // A KcID of the known MAF whose MAF is down: a clean refusal.
  auto down = lookup("AAECAwQFBgcICQoLDA0ODw==@maf.example.com");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), Errc::connect_failed);
}

// MAF Key Push (docs/protocol.md). The key bytes are 00..1f; their base64
// (python3: base64.b64encode(bytes(range(32)))) is the "kv" below.
constexpr const char* kPushedKcId = "AAECAwQFBgcICQoLDA0ODw==@maf.example.com";
constexpr const char* kPushedKv = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

nlohmann::json push_body(nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json o = {{"kid", kPushedKcId}, {"kv", kPushedKv},
                      {"et", proto::format_time(service::now_unix() + 600)}, {"sid", "/dev-7"},
                      {"adm", "sp.example.com"}, {"suid", proto::kSuidMafSaef}};
  o.update(extra);
  return {{"sec:mkp", o}};
}

proto::Request push_request(nlohmann::json body = push_body(), const std::string& from = "maf.example.com") {
  return request(Operation::create, std::string(proto::kCseMafKeysPath), from, std::move(body),
                 proto::kTyMafKeyReg);
}

// A Kc pushed by its MAF makes the first handshake with the KcID warm:
// no MAF Key Retrieval (the MAF in this fixture is unreachable anyway).
TEST_F(EntityBTest, AcceptsAKcPushedByItsMaf) {
  const proto::Response rsp = call(*svc_, cert_ctx({}, {"maf.example.com"}), push_request());
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  std::promise<Result<SecretBytes>> p;
  svc_->psk_lookup(tls::PskRequest{kPushedKcId, "in-cse.sp.example.com"},
                   [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
  auto key = p.get_future().get();
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(base64_encode(key->view()), kPushedKv);
  EXPECT_EQ(session(kPushedKcId)->entity_id, "/dev-7");
  const KeyStats st = svc_->stats();
  EXPECT_EQ(st.pushed, 1u);
  EXPECT_EQ(st.push_requests, 1u);
  EXPECT_EQ(st.maf_fetches, 0u);
}

TEST_F(EntityBTest, RefusesPushesThatDoNotFit) {
  const AuthRef maf = cert_ctx({}, {"maf.example.com"});
  auto push = [&](const AuthRef& ctx, proto::Request req) { return rsc(call(*svc_, ctx, std::move(req))); };
  // Only a configured MAF, by its certificate, naming itself.
  EXPECT_EQ(push(session(kKpsaId), push_request()), 4103);
  EXPECT_EQ(push(cert_ctx({}, {"maf2.example.com"}), push_request()), 4103);
  EXPECT_EQ(push(cert_ctx({"/maf"}, {}), push_request()), 4103);
  // Issue 11 item 3: the MAF's name from a device anchor pushes nothing.
  for (const std::string& anchor : {kDeviceCa, kOtherDeviceCa, std::string("sha256:") + std::string(64, '9')}) {
    const proto::Response rsp = call(*svc_, cert_ctx({}, {"maf.example.com"}, anchor), push_request());
    EXPECT_EQ(rsc(rsp), 4103) << anchor;
    EXPECT_EQ(dbg(rsp), "key push needs a certificate from an infrastructure trust anchor");
  }
  EXPECT_EQ(push(maf, push_request(push_body(), "maf2.example.com")), 4103);
  // Only its own KcIDs.
  EXPECT_EQ(push(maf, push_request(push_body({{"kid", "AAECAwQFBgcICQoLDA0ODw==@maf2.example.com"}}))), 4103);
  // Malformed or unusable keys.
  EXPECT_EQ(push(maf, push_request(push_body({{"kid", "no-at-sign"}}))), 4000);
  EXPECT_EQ(push(maf, push_request(push_body({{"kv", "AAEC"}}))), 4000);
  EXPECT_EQ(push(maf, push_request(push_body({{"kv", 5}}))), 4000);
  EXPECT_EQ(push(maf, push_request(push_body({{"suid", 10}}))), 4000);
  EXPECT_EQ(push(maf, push_request(push_body({{"sid", "not an id"}}))), 4000);
  EXPECT_EQ(push(maf, push_request(push_body({{"et", "19700101T000001"}}))), 4000);
  EXPECT_EQ(push(maf, push_request({{"sec:mkp", "x"}})), 4000);
  EXPECT_EQ(push(maf, request(Operation::retrieve, std::string(proto::kCseMafKeysPath), "maf.example.com")), 4005);
  EXPECT_EQ(svc_->stats().pushed, 0u);
  EXPECT_EQ(svc_->stats().push_requests, 0u);
}

// A batch of pushes (sec:mkb): each entry is held or refused on its own,
// and the answer gives one RSC per entry, in order. The second key is the
// bytes 32..63 (python3: base64.b64encode(bytes(range(32, 64)))), its
// RelativeKcID the bytes 16..31.
constexpr const char* kSecondKcId = "EBESExQVFhcYGRobHB0eHw==@maf.example.com";
constexpr const char* kSecondKv = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

proto::Request batch_request(const std::vector<nlohmann::json>& entries, const std::string& from = "maf.example.com") {
  nlohmann::json list = nlohmann::json::array();
  for (const nlohmann::json& e : entries) list.push_back(e["sec:mkp"]);
  return push_request({{"sec:mkb", {{"mkp", list}}}}, from);
}

TEST_F(EntityBTest, AcceptsABatchOfPushesEntryByEntry) {
  const proto::Response rsp =
      call(*svc_, cert_ctx({}, {"maf.example.com"}),
           batch_request({push_body(),
                          push_body({{"kid", "AAECAwQFBgcICQoLDA0ODw==@maf2.example.com"}}),  // another MAF's
                          push_body({{"et", "19700101T000001"}}),                               // expired
                          push_body({{"kid", kSecondKcId}, {"kv", kSecondKv}, {"sid", "Cae-9"}})}));
  ASSERT_EQ(rsc(rsp), 2000) << dbg(rsp);
  auto results = proto::MafKeyPushResults::from_json(rsp.content);
  ASSERT_TRUE(results) << results.error().message();
  EXPECT_EQ(results->rsc, (std::vector<int>{2001, 4103, 4000, 2001}));
  for (const auto& [id, kv, who] : {std::tuple{kPushedKcId, kPushedKv, "/dev-7"}, std::tuple{kSecondKcId, kSecondKv, "Cae-9"}}) {
    std::promise<Result<SecretBytes>> p;
    svc_->psk_lookup(tls::PskRequest{id, "in-cse.sp.example.com"},
                     [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
    auto key = p.get_future().get();
    ASSERT_TRUE(key) << id << ": " << key.error().message();
    EXPECT_EQ(base64_encode(key->view()), kv);
    EXPECT_EQ(session(id)->entity_id, who);
  }
  const KeyStats st = svc_->stats();
  EXPECT_EQ(st.pushed, 2u);
  EXPECT_EQ(st.push_requests, 1u);
  EXPECT_EQ(st.maf_fetches, 0u);
}

TEST_F(EntityBTest, RefusesBatchesThatDoNotFit) {
  auto push = [&](const AuthRef& ctx, proto::Request req) { return rsc(call(*svc_, ctx, std::move(req))); };
  const AuthRef maf = cert_ctx({}, {"maf.example.com"});
  // The whole batch: not from a configured MAF naming itself.
  EXPECT_EQ(push(cert_ctx({}, {"maf2.example.com"}), batch_request({push_body()})), 4103);
  EXPECT_EQ(push(session(kKpsaId), batch_request({push_body()})), 4103);
  EXPECT_EQ(push(cert_ctx({}, {"maf.example.com"}, kDeviceCa), batch_request({push_body()})), 4103);
  EXPECT_EQ(push(maf, batch_request({push_body()}, "maf2.example.com")), 4103);
  // The whole batch: empty, too long, not a list, or an entry that does
  // not parse (nothing of it is held).
  EXPECT_EQ(push(maf, batch_request({})), 4000);
  EXPECT_EQ(push(maf, batch_request(std::vector<nlohmann::json>(proto::kMaxPushBatch + 1, push_body()))), 4000);
  EXPECT_EQ(push(maf, push_request({{"sec:mkb", {{"mkp", "x"}}}})), 4000);
  EXPECT_EQ(push(maf, batch_request({push_body({{"kid", kSecondKcId}}), push_body({{"kv", 5}})})), 4000);
  // A batch whose every entry is refused is answered 2000, entry by entry,
  // and carried no key.
  const proto::Response none = call(*svc_, maf, batch_request({push_body({{"suid", 10}}), push_body({{"sid", "x y"}})}));
  ASSERT_EQ(rsc(none), 2000) << dbg(none);
  auto results = proto::MafKeyPushResults::from_json(none.content);
  ASSERT_TRUE(results) << results.error().message();
  EXPECT_EQ(results->rsc, (std::vector<int>{4000, 4000}));
  const KeyStats st = svc_->stats();
  EXPECT_EQ(st.pushed, 0u);
  EXPECT_EQ(st.push_requests, 0u);
}

}  // namespace
}  // namespace m2msec::entityb
