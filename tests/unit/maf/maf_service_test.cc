// MafService::handle driven directly: constructed AuthContexts, a real
// SQLite store in a temp dir, no sockets. Every refusal the handler can
// give has a case here.
//
// Expected Kc values were computed independently with python3:
//   ex = bytes(range(100, 148)); rel, kc = ex[:16], ex[16:]
//   base64.b64encode(rel) -> "ZGVmZ2hpamtsbW5vcHFycw=="   (RelativeKcID)
//   base64.b64encode(kc)  -> "dHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpM="
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "m2msec/core/encoding.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/messages.h"
#include "../service/service_harness.h"
#include "maf_test_util.h"

namespace m2msec::maf {
namespace {

using namespace service::testing;
using proto::Operation;

using testing::kKmId;
constexpr const char* kRelKcId = "ZGVmZ2hpamtsbW5vcHFycw==";
constexpr const char* kKcB64 = "dHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpM=";

class MafServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::testing::open_store(dir_.file("maf.db"));
    ASSERT_TRUE(store_);
    svc_ = std::make_unique<MafService>(testing::test_config(), *store_, pool_, nullptr);
    testing::add_test_client(*store_);
  }

  static nlohmann::json key_reg(nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json o = {{"fqdn", "maf.example.com"}, {"suid", proto::kSuidMafSaef}, {"tids", {"/in-cse"}}};
    o.update(extra);
    return {{"sec:mkr", o}};
  }

  proto::Response register_key(nlohmann::json body = key_reg(), SecretBytes exported = exported_bytes(100)) {
    return call(*svc_, psk_ctx(kKmId, std::move(exported)),
                request(Operation::create, "/maf", "/dev-1", std::move(body), proto::kTyMafKeyReg));
  }

  Result<SecretBytes> lookup(const std::string& id) {
    std::promise<Result<SecretBytes>> p;
    auto f = p.get_future();
    svc_->psk_lookup(tls::PskRequest{id, "maf.example.com"}, [&p](Result<SecretBytes> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  static AuthRef in_cse() { return cert_ctx({}, {"in-cse.sp.example.com"}); }
  static proto::Request retrieve(const std::string& rel, const std::string& from = "/in-cse") {
    return request(Operation::retrieve, std::string(proto::kMafKeysPrefix) + proto::percent_encode(rel), from);
  }
  static proto::Request remove(const std::string& rel, const std::string& from) {
    return request(Operation::del, std::string(proto::kMafKeysPrefix) + proto::percent_encode(rel), from);
  }

  TempDir dir_;
  service::WorkerPool pool_{2};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MafService> svc_;
};

// 8.8.2.3: client registration returns assignedSymmKeyID.
TEST_F(MafServiceTest, RegistersAClient) {
  const proto::Response rsp = call(*svc_, psk_ctx(kKmId),
                                   request(Operation::create, "/maf", "/dev-1",
                                           {{"sec:mcr", {{"fqdn", "maf.example.com"}}}}, proto::kTyMafClientReg));
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::MafClientRegResponse::from_json(rsp.content);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->client_id, "/dev-1");
  EXPECT_EQ(body->assigned_key_id, kKmId);
}

TEST_F(MafServiceTest, RefusesClientRegistrationsThatDoNotFit) {
  auto reg = [&](const AuthRef& ctx, const std::string& from, nlohmann::json body) {
    return rsc(call(*svc_, ctx, request(Operation::create, "/maf", from, std::move(body), proto::kTyMafClientReg)));
  };
  const nlohmann::json good = {{"sec:mcr", {{"fqdn", "maf.example.com"}}}};
  EXPECT_EQ(reg(psk_ctx(kKmId), "/dev-2", good), 4103);                              // not the authenticated entity
  EXPECT_EQ(reg(psk_ctx("ffff@maf.example.com"), "/dev-1", good), 4004);             // unknown KmID
  EXPECT_EQ(reg(in_cse(), "/in-cse", good), 4004);                                   // not a PSK session
  EXPECT_EQ(reg(psk_ctx(kKmId), "/dev-1", {{"sec:mcr", {{"fqdn", "maf2.example.com"}}}}), 4000);
  EXPECT_EQ(reg(psk_ctx(kKmId), "/dev-1", {{"sec:mcr", {{"fqdn", 5}}}}), 4000);
  EXPECT_EQ(reg(psk_ctx(kKmId), "/dev-1", {{"sec:mcr", {{"fqdn", "maf.example.com"}, {"et", 5}}}}), 4000);
}

// 8.8.2.7 with 10.3.1: Kc and RelativeKcID come from the exporter; Entity B
// retrieves Kc (8.8.2.8).
TEST_F(MafServiceTest, RegistersKcAndGivesItToTheTarget) {
  const proto::Response rsp = register_key();
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::MafKeyRegResponse::from_json(rsp.content);
  ASSERT_TRUE(body) << body.error().message();
  EXPECT_EQ(body->relative_key_id, kRelKcId);
  EXPECT_EQ(body->source_id, "/dev-1");
  EXPECT_LE(body->expiration, service::now_unix() + 3600);

  const proto::Response got = call(*svc_, in_cse(), retrieve(kRelKcId));
  ASSERT_EQ(rsc(got), 2000) << dbg(got);
  auto key = proto::MafKeyRetrieveResponse::from_json(got.content);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(base64_encode(key->key.view()), kKcB64);
  EXPECT_EQ(key->source_id, "/dev-1");
}

TEST_F(MafServiceTest, RefusesKeyRegistrationsThatDoNotFit) {
  EXPECT_EQ(rsc(register_key(key_reg({{"suid", 10}}))), 4000);
  // Issue 9: 4294967306 was read as 10 by get<int>().
  EXPECT_EQ(rsc(register_key(key_reg({{"suid", 4294967306LL}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"suid", 18446744073709551615ULL}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"suid", "32"}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"tids", {"/in-cse", "/mn-cse"}}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"tids", {"not an id"}}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"tids", nlohmann::json::array()}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"fqdn", "maf2.example.com"}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg({{"et", "19700101T000001"}}))), 4000);
  EXPECT_EQ(rsc(register_key(key_reg(), SecretBytes())), 5000);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId, exported_bytes(100)),
                     request(Operation::create, "/maf", "/dev-2", key_reg(), proto::kTyMafKeyReg))),
            4103);
}

TEST_F(MafServiceTest, GivesKcOnlyToItsTarget) {
  ASSERT_EQ(rsc(register_key()), 2001);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), retrieve(kRelKcId, "/mn-cse"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), retrieve(kRelKcId, "/in-cse"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), retrieve(kRelKcId, "/dev-1"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve("AAAAAAAAAAAAAAAAAAAAAA=="))), 4004);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve("not base64!"))), 4000);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), request(Operation::retrieve, "/maf/keys/%g0", "/in-cse"))), 4000);
}

// Issue 11 item 3: Entity B is vouched for by an infrastructure anchor; a
// device CA's certificate naming /in-cse (dNSName or SAN URI) gets no Kc
// and deletes none.
TEST_F(MafServiceTest, RefusesEntityBNamesFromADeviceAnchor) {
  ASSERT_EQ(rsc(register_key()), 2001);
  for (const AuthRef& forged : {cert_ctx({}, {"in-cse.sp.example.com"}, kDeviceCa),
                                cert_ctx({"/in-cse"}, {"in-cse.sp.example.com"}, kOtherDeviceCa),
                                cert_ctx({}, {"in-cse.sp.example.com"}, "sha256:" + std::string(64, '9'))}) {
    const proto::Response rsp = call(*svc_, forged, retrieve(kRelKcId, "/in-cse"));
    EXPECT_EQ(rsc(rsp), 4103);
    EXPECT_EQ(dbg(rsp), "X-M2M-Origin is not the authenticated Entity B");
    EXPECT_EQ(rsc(call(*svc_, forged, remove(kRelKcId, "/in-cse"))), 4103);
  }
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"in-cse.sp.example.com"}, kInfraCa), retrieve(kRelKcId, "/in-cse"))), 2000);
}

// 8.8.2.10: the source or a target may de-register the key.
TEST_F(MafServiceTest, DeletesKcForItsSourceOrTarget) {
  ASSERT_EQ(rsc(register_key()), 2001);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), remove(kRelKcId, "/mn-cse"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, anonymous_ctx(), remove(kRelKcId, "/in-cse"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), remove(kRelKcId, "/in-cse"))), 2002);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4004);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), remove(kRelKcId, "/in-cse"))), 4004);
  ASSERT_EQ(rsc(register_key(key_reg(), exported_bytes(100))), 2001);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), remove(kRelKcId, "/dev-1"))), 2002);
}

// docs/protocol.md §3.4 "Kc holders": with Entity B run as replicas, the
// key goes when the last process holding it lets it go.
TEST_F(MafServiceTest, AKcGoesWhenTheLastEntityBProcessHoldingItLetsGo) {
  ASSERT_EQ(rsc(register_key()), 2001);
  auto with = [](proto::Request r, const std::string& holder) {
    r.to += std::string(proto::kHolderQuery) + holder;
    return r;
  };
  ASSERT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), "node-a"))), 2000);
  ASSERT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), "node-b"))), 2000);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), with(remove(kRelKcId, "/in-cse"), "node-a"))), 2002);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 2000);  // node-b still holds it
  EXPECT_EQ(rsc(call(*svc_, in_cse(), with(remove(kRelKcId, "/in-cse"), "node-b"))), 2002);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4004);

  // Bad queries and holder IDs are refused; Entity A's de-registration
  // (no holder) deletes the key whoever holds it.
  ASSERT_EQ(rsc(register_key(key_reg(), exported_bytes(100))), 2001);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), ""))), 4000);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), "a/b"))), 4000);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), std::string(65, 'a')))), 4000);
  proto::Request other = retrieve(kRelKcId);
  other.to += "?filter=1";
  EXPECT_EQ(rsc(call(*svc_, in_cse(), other)), 4000);
  ASSERT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(kRelKcId), "node-a"))), 2000);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), remove(kRelKcId, "/dev-1"))), 2002);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4004);
}

// docs/protocol.md §3.4, batches: the session and X-M2M-Origin are checked
// once; then each entry is answered as its own DELETE would be. The
// RelativeKcIDs of exported_bytes(150) and (200), computed with python3:
//   base64.b64encode(bytes(range(150, 166))) -> "lpeYmZqbnJ2en6ChoqOkpQ=="
//   base64.b64encode(bytes(range(200, 216))) -> "yMnKy8zNzs/Q0dLT1NXW1w=="
TEST_F(MafServiceTest, DeletesABatchOfKcKeysEachAsItsOwnDeleteWould) {
  const std::string held = "lpeYmZqbnJ2en6ChoqOkpQ==", not_ours = "yMnKy8zNzs/Q0dLT1NXW1w==";
  ASSERT_EQ(rsc(register_key()), 2001);  // kRelKcId, for /in-cse, held by no process
  ASSERT_EQ(rsc(register_key(key_reg(), exported_bytes(150))), 2001);
  ASSERT_EQ(rsc(register_key(key_reg({{"tids", {"/mn-cse"}}}), exported_bytes(200))), 2001);
  auto with = [](proto::Request r, const std::string& holder) {
    r.to += std::string(proto::kHolderQuery) + holder;
    return r;
  };
  ASSERT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(held), "node-a"))), 2000);
  ASSERT_EQ(rsc(call(*svc_, in_cse(), with(retrieve(held), "node-b"))), 2000);
  auto batch = [](nlohmann::json body, const std::string& from = "/in-cse", int ty = proto::kTyMafKeyDereg) {
    return request(Operation::create, std::string(proto::kMafKeyDeregPath), from, std::move(body), ty);
  };
  auto ids = [](std::vector<std::string> rel, std::string holder) {
    return proto::MafKeyDeregBatch{std::move(rel), std::move(holder)}.to_json();
  };

  // Refused as a whole: the requester, the body, the resource type.
  EXPECT_EQ(rsc(call(*svc_, in_cse(), batch(ids({kRelKcId}, "node-a"), "/mn-cse"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, anonymous_ctx(), batch(ids({kRelKcId}, "node-a")))), 4103);
  for (const nlohmann::json& bad :
       {nlohmann::json{{"sec:mkd", {{"kid", nlohmann::json::array()}}}}, nlohmann::json{{"sec:mkd", {{"kid", kRelKcId}}}},
        nlohmann::json{{"sec:mkd", {{"kid", std::vector<std::string>(65, kRelKcId)}}}},
        nlohmann::json{{"sec:mkd", {{"kid", {kRelKcId}}, {"hld", "a/b"}}}}, nlohmann::json{{"sec:mkp", {}}}}) {
    const proto::Response rsp = call(*svc_, in_cse(), batch(bad));
    EXPECT_EQ(rsc(rsp), 4000) << bad.dump();
  }
  EXPECT_EQ(rsc(call(*svc_, in_cse(), batch(ids({kRelKcId}, "node-a"), "/in-cse", proto::kTyMafKeyReg))), 4004);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 2000) << "no refused batch deleted anything";

  // Each entry on its own: deleted (no process held it), released by
  // node-a (node-b still holds it), not a target of the key, unknown, not
  // a RelativeKcID.
  const proto::Response rsp =
      call(*svc_, in_cse(), batch(ids({kRelKcId, held, not_ours, "AAAAAAAAAAAAAAAAAAAAAA==", "not base64!"}, "node-a")));
  ASSERT_EQ(rsc(rsp), 2000);
  auto results = proto::MafKeyDeregResults::from_json(rsp.content);
  ASSERT_TRUE(results) << results.error().message();
  EXPECT_EQ(results->rsc, (std::vector<int>{2002, 2002, 4103, 4004, 4000}));
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4004);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(held))), 2000);
  EXPECT_EQ(rsc(call(*svc_, cert_ctx({}, {"mn-cse.sp.example.com"}), retrieve(not_ours, "/mn-cse"))), 2000);

  // The last holder lets go; the other key's own target, and a key's
  // source, may batch too.
  auto codes = [](const proto::Response& r) {
    auto got = proto::MafKeyDeregResults::from_json(r.content);
    return got ? got->rsc : std::vector<int>{};
  };
  EXPECT_EQ(codes(call(*svc_, in_cse(), batch(ids({held}, "node-b")))), std::vector<int>{2002});
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(held))), 4004);
  const AuthRef mn_cse = cert_ctx({}, {"mn-cse.sp.example.com"});
  EXPECT_EQ(codes(call(*svc_, mn_cse, batch(ids({not_ours}, ""), "/mn-cse"))), std::vector<int>{2002});
  EXPECT_EQ(rsc(call(*svc_, mn_cse, retrieve(not_ours, "/mn-cse"))), 4004);
  ASSERT_EQ(rsc(register_key(key_reg(), exported_bytes(100))), 2001);
  EXPECT_EQ(codes(call(*svc_, psk_ctx(kKmId), batch(ids({kRelKcId}, ""), "/dev-1"))), std::vector<int>{2002});
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4004);
}

// docs/protocol.md: an expired Kc can still be de-registered.
TEST_F(MafServiceTest, DeletesAnExpiredKc) {
  // Two seconds ahead: one second left the registration refused (4000,
  // "et" not in the future) whenever a second boundary fell between the
  // test's clock reading and the MAF's, as it did under ASan in CI.
  const std::int64_t et = service::now_unix() + 2;
  ASSERT_EQ(rsc(register_key(key_reg({{"et", proto::format_time(et)}}))), 2001);
  while (service::now_unix() <= et) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 4103);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), remove(kRelKcId, "/in-cse"))), 2002);
}

// 8.8.2.6: a client de-registers itself only.
TEST_F(MafServiceTest, DeletesOnlyItsOwnClientRegistration) {
  const std::string own = std::string(proto::kMafClientsPrefix) + proto::percent_encode(kKmId);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::del, "/maf/clients/other", "/dev-1"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::del, own, "/dev-2"))), 4103);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), request(Operation::del, own, "/in-cse"))), 4004);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::del, own, "/dev-1"))), 2002);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::del, own, "/dev-1"))), 4004);
}

TEST_F(MafServiceTest, RefusesOtherOperationsAndPaths) {
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::update, "/maf", "/dev-1"))), 4004);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::create, "/maf", "/dev-1", nullptr, 2))), 4004);
  EXPECT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::retrieve, "/elsewhere", "/dev-1"))), 4004);
}

TEST_F(MafServiceTest, PskLookupResolvesRegisteredKmIdsOnly) {
  auto ok = lookup(kKmId);
  ASSERT_TRUE(ok);
  EXPECT_EQ(hex_encode(ok->view()), std::string(64, '2'));
  EXPECT_FALSE(lookup("ffff@maf.example.com"));
  EXPECT_FALSE(lookup("garbage\n"));
  // A KeID of a MEF the MAF does not know.
  EXPECT_FALSE(lookup("AAECAwQFBgcICQoLDA0ODw==@mef.example.com"));
}

// What the handshake learned (the client's entity ID and Km's expiry)
// reaches the requests through the context, so key registration needs no
// store read; Kc still lives no longer than Km (seed 000).
TEST_F(MafServiceTest, HandshakeBindsTheSessionToItsClient) {
  store::MafClient c;
  c.km_id = KeyId::parse(KeyIdKind::km, "0e0f@maf.example.com")->canonical();
  c.km = store::testing::secret_of(0x33);
  c.entity_id = "/dev-3";
  const std::int64_t km_expiry = service::now_unix() + 60;
  c.expires_at = km_expiry;
  ASSERT_TRUE(store_->maf().register_client(c, service::now_unix()));
  ASSERT_TRUE(lookup("0e0f@maf.example.com"));

  service::AuthContext ctx;
  ctx.peer.kind = tls::PeerIdentity::Kind::psk;
  ctx.peer.psk_identity = ctx.key_id = "0e0f@maf.example.com";
  ctx.exported = exported_bytes(100);
  svc_->on_session_start(ctx);
  EXPECT_EQ(ctx.entity_id, "/dev-3");
  ASSERT_TRUE(ctx.key_expires_at.has_value());
  EXPECT_EQ(*ctx.key_expires_at, km_expiry);
  auto bound = std::make_shared<const service::AuthContext>(std::move(ctx));

  const proto::Response rsp =
      call(*svc_, bound, request(Operation::create, "/maf", "/dev-3", key_reg(), proto::kTyMafKeyReg));
  ASSERT_EQ(rsc(rsp), 2001) << dbg(rsp);
  auto body = proto::MafKeyRegResponse::from_json(rsp.content);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->relative_key_id, kRelKcId);
  EXPECT_EQ(body->source_id, "/dev-3");
  EXPECT_LE(body->expiration, km_expiry);  // capped by Km, not the 1 h Kc lifetime
  // Bound or not, X-M2M-Origin must be the authenticated entity.
  EXPECT_EQ(rsc(call(*svc_, bound, request(Operation::create, "/maf", "/dev-1", key_reg(), proto::kTyMafKeyReg))),
            4103);
}

// An entity registered again under another KmID: the handshake that reads
// the new registration drops the old one from the client cache, so a
// session under the old KmID is not bound from it.
TEST_F(MafServiceTest, ANewKmIdDropsTheEntitysPreviousClientFromTheCache) {
  auto client = [](const char* km_id, std::uint8_t key) {
    store::MafClient c;
    c.km_id = KeyId::parse(KeyIdKind::km, km_id)->canonical();
    c.km = store::testing::secret_of(key);
    c.entity_id = "/dev-4";
    c.expires_at = service::now_unix() + 60;
    return c;
  };
  auto bound_entity = [this](const char* identity) {
    service::AuthContext ctx;
    ctx.peer.kind = tls::PeerIdentity::Kind::psk;
    ctx.peer.psk_identity = ctx.key_id = identity;
    svc_->on_session_start(ctx);
    return ctx.entity_id;
  };
  ASSERT_TRUE(store_->maf().register_client(client("0a0a@maf.example.com", 0x41), service::now_unix()));
  ASSERT_TRUE(lookup("0a0a@maf.example.com"));
  EXPECT_EQ(bound_entity("0a0a@maf.example.com"), "/dev-4");  // cached by its handshake

  ASSERT_TRUE(store_->maf().register_client(client("0b0b@maf.example.com", 0x42), service::now_unix()));
  ASSERT_TRUE(lookup("0b0b@maf.example.com"));
  EXPECT_EQ(bound_entity("0b0b@maf.example.com"), "/dev-4");
  EXPECT_EQ(bound_entity("0a0a@maf.example.com"), "");  // dropped, not served from the cache
}

// A session whose client the handshake did not leave in the cache is not
// bound; its requests look the client up.
TEST_F(MafServiceTest, UnknownIdentityLeavesTheSessionUnbound) {
  service::AuthContext ctx;
  ctx.peer.kind = tls::PeerIdentity::Kind::psk;
  ctx.peer.psk_identity = ctx.key_id = "ffff@maf.example.com";
  svc_->on_session_start(ctx);
  EXPECT_EQ(ctx.entity_id, "");
  EXPECT_FALSE(ctx.key_expires_at.has_value());
  service::AuthContext cert;
  cert.peer.kind = tls::PeerIdentity::Kind::certificate;
  svc_->on_session_start(cert);
  EXPECT_EQ(cert.entity_id, "");
}

// A client that de-registered is refused at its next handshake, although
// its last handshake left it in the client cache.
TEST_F(MafServiceTest, DeRegisteredClientIsRefusedAtTheNextHandshake) {
  ASSERT_TRUE(lookup(kKmId));  // now cached
  const std::string own = std::string(proto::kMafClientsPrefix) + proto::percent_encode(kKmId);
  ASSERT_EQ(rsc(call(*svc_, psk_ctx(kKmId), request(Operation::del, own, "/dev-1"))), 2002);
  auto again = lookup(kKmId);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::unknown_psk_identity);
}

// Issue 11: with [[maf.cse]] configured, the MAF serves Kc only to the
// Entity Bs it knows: as targets of a registration, and as requesters of a
// retrieval, by CSE-ID and certificate FQDN.
TEST_F(MafServiceTest, ServesKcOnlyToTheEntityBsItKnows) {
  MafConfig cfg;
  cfg.listen.fqdn = "maf.example.com";
  cfg.sp_domain = "sp.example.com";
  cfg.admin_fqdn = "sp.example.com";
  cfg.cses.push_back({"/in-cse", "cse-host.example.net", "127.0.0.1:1"});
  MafService known(cfg, *store_, pool_, nullptr);  // no link: nothing is pushed
  auto reg = [&](const std::string& target) {
    return call(known, psk_ctx(kKmId, exported_bytes(100)),
                request(Operation::create, "/maf", "/dev-1", key_reg({{"tids", {target}}}), proto::kTyMafKeyReg));
  };
  EXPECT_EQ(rsc(reg("/mn-cse")), 4103);
  ASSERT_EQ(rsc(reg("/in-cse")), 2001);
  // /in-cse by its CSE-ID certificate, but not the host configured for it.
  EXPECT_EQ(rsc(call(known, in_cse(), retrieve(kRelKcId))), 4103);
  // The configured host, naming /in-cse as well.
  const proto::Response got =
      call(known, cert_ctx({}, {"in-cse.sp.example.com", "cse-host.example.net"}), retrieve(kRelKcId));
  EXPECT_EQ(rsc(got), 2000) << dbg(got);
}

}  // namespace
}  // namespace m2msec::maf

namespace m2msec::maf {
namespace {

std::vector<nlohmann::json> audit_records(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

// Issue 11 item 5 (docs/audit.md): the MAF records every grant (client
// registration, Kc registration, Kc retrieval) and every refusal class,
// names its key store by MAS-ID, and never writes a key value.
TEST_F(MafServiceTest, AuditsGrantsAndRefusalsByIdentifierOnly) {
  auto log = service::AuditLog::open(dir_.file("audit.jsonl"), "maf", "mas-1.example.com");
  ASSERT_TRUE(log) << log.error().message();
  svc_->set_audit(log->get());
  ASSERT_EQ(rsc(call(*svc_, psk_ctx(kKmId),
                     request(Operation::create, "/maf", "/dev-1", {{"sec:mcr", {{"fqdn", "maf.example.com"}}}},
                             proto::kTyMafClientReg))),
            2001);
  ASSERT_EQ(rsc(register_key()), 2001);
  ASSERT_EQ(rsc(call(*svc_, in_cse(), retrieve(kRelKcId))), 2000);
  ASSERT_EQ(rsc(call(*svc_, cert_ctx({}, {"other-cse.sp.example.com"}), retrieve(kRelKcId, "/other-cse"))), 4103);
  ASSERT_EQ(rsc(call(*svc_, in_cse(), retrieve("AAAAAAAAAAAAAAAAAAAAAA=="))), 4004);
  svc_->set_audit(nullptr);

  const auto recs = audit_records((*log)->path());
  ASSERT_EQ(recs.size(), 5u);
  for (const auto& r : recs) {
    EXPECT_EQ(r["role"], "maf");
    EXPECT_EQ(r["mas_id"], "mas-1.example.com");
  }
  const std::string kc_id = std::string(kRelKcId) + "@maf.example.com";
  EXPECT_EQ(recs[0]["event"], "grant");
  EXPECT_EQ(recs[0]["kind"], "km");
  EXPECT_EQ(recs[0]["key_id"], kKmId);
  EXPECT_EQ(recs[0]["to"], "/dev-1");
  EXPECT_EQ(recs[1]["kind"], "kc");
  EXPECT_EQ(recs[1]["key_id"], kc_id);
  EXPECT_EQ(recs[1]["to"], "/dev-1");
  EXPECT_EQ(recs[1]["entity"], "/in-cse");
  EXPECT_EQ(recs[1]["framework"], "maf");
  EXPECT_TRUE(recs[1]["expires_at"].is_number_integer());
  EXPECT_EQ(recs[2]["event"], "grant");
  EXPECT_EQ(recs[2]["key_id"], kc_id);
  EXPECT_EQ(recs[2]["to"], "/in-cse");
  EXPECT_EQ(recs[2]["entity"], "/dev-1");
  EXPECT_EQ(recs[3]["event"], "refusal");
  EXPECT_EQ(recs[3]["reason"], "not_target");
  EXPECT_EQ(recs[3]["to"], "/other-cse");
  EXPECT_EQ(recs[4]["reason"], "unknown_key");
  EXPECT_EQ(recs[4]["rsc"], 4004);

  // No key value: neither Kc (base64 or hex) nor Km.
  std::ifstream in((*log)->path());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(kKcB64), std::string::npos);
  EXPECT_EQ(text.find(hex_encode(*base64_decode(kKcB64))), std::string::npos);
  EXPECT_EQ(text.find(hex_encode(store::testing::secret_of(0x22).view())), std::string::npos);
}

}  // namespace
}  // namespace m2msec::maf

namespace m2msec::maf {
namespace {

// docs/protocol.md §3.7: the MAF's revocation feed, for the Entity Bs that
// may retrieve its keys; the MAF's own revocation is remembered, so the Km
// behind a revoked KeID is never fetched again.
TEST_F(MafServiceTest, ServesItsRevocationFeedToEntityBsAndRemembersWhatItRevoked) {
  ASSERT_EQ(rsc(register_key()), 2001);
  store::Revocation r;
  r.kind = store::RevokedKind::km;
  r.key_id = KeyId::parse(KeyIdKind::km, kKmId)->canonical();
  ASSERT_TRUE(*store_->maf().revoke_client(r, service::now_unix()));
  auto feed = [&](const AuthRef& ctx, const std::string& from, const std::string& after = "0") {
    return call(*svc_, ctx, request(Operation::retrieve, std::string(proto::kMafRevocationsPrefix) + after, from));
  };
  const proto::Response ok = feed(in_cse(), "/in-cse");
  ASSERT_EQ(rsc(ok), 2000) << dbg(ok);
  auto f = proto::RevocationFeed::from_json(ok.content);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->entries.size(), 1u);
  EXPECT_EQ(f->entries[0].kind, "km");
  EXPECT_EQ(f->entries[0].entity_id, "/dev-1");
  // The revoked KmID no longer resolves; the session it had is gone with it.
  EXPECT_FALSE(lookup(kKmId));
  // Refusals.
  EXPECT_EQ(rsc(feed(psk_ctx(kKmId), "/dev-1")), 4103);                                          // a device session
  EXPECT_EQ(rsc(feed(in_cse(), "/mn-cse")), 4103);                                                // another's CSE-ID
  EXPECT_EQ(rsc(feed(cert_ctx({}, {"in-cse.sp.example.com"}, kDeviceCa), "/in-cse")), 4103);      // device anchor
  EXPECT_EQ(rsc(feed(in_cse(), "/in-cse", "minus one")), 4000);
  EXPECT_EQ(rsc(call(*svc_, in_cse(), request(Operation::del, std::string(proto::kMafRevocationsPrefix) + "0",
                                               "/in-cse"))),
            4004);
  MafConfig cfg;
  cfg.listen.fqdn = "maf.example.com";
  cfg.sp_domain = "sp.example.com";
  cfg.cses.push_back({"/in-cse", "cse-host.example.net", "127.0.0.1:1"});
  MafService known(cfg, *store_, pool_, nullptr);
  EXPECT_EQ(rsc(call(known, cert_ctx({}, {"mn-cse.sp.example.com"}),
                     request(Operation::retrieve, std::string(proto::kMafRevocationsPrefix) + "0", "/mn-cse"))),
            4103);  // not an Entity B this MAF serves
}

// A KeID whose Km this MAF revoked is refused without asking the MEF (the
// service has no link here: a fetch would fail with connect_failed, not be
// refused as unknown).
TEST_F(MafServiceTest, NeverFetchesARevokedKmAgain) {
  const std::string ke_id = "AAECAwQFBgcICQoLDA0ODw==@mef.example.com";
  auto km_id = assigned_km_id(*KeyId::parse(KeyIdKind::ke, ke_id), *Fqdn::parse("maf.example.com"));
  ASSERT_TRUE(km_id);
  store::Revocation r;
  r.kind = store::RevokedKind::km;
  r.key_id = km_id->canonical();
  r.entity_id = "/dev-9";
  r.expires_at = service::now_unix() + 3600;
  ASSERT_FALSE(*store_->maf().revoke_client(r, service::now_unix()));
  MafConfig cfg;
  cfg.listen.fqdn = "maf.example.com";
  cfg.sp_domain = "sp.example.com";
  cfg.mefs.push_back({"mef.example.com", "127.0.0.1:1"});
  MafService svc(cfg, *store_, pool_, nullptr);
  std::promise<Result<SecretBytes>> p;
  auto fut = p.get_future();
  svc.psk_lookup(tls::PskRequest{ke_id, "maf.example.com"}, [&p](Result<SecretBytes> x) { p.set_value(std::move(x)); });
  Result<SecretBytes> got = fut.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::unknown_psk_identity);
}

// A de-registration batch is audited entry by entry, as the DELETEs it
// stands for would be: a refused entry is a refusal of its own key's
// resource; the batch's own 2000 is no refusal.
TEST_F(MafServiceTest, AuditsEachRefusedEntryOfADeRegistrationBatch) {
  auto log = service::AuditLog::open(dir_.file("audit-batch.jsonl"), "maf", "mas-1.example.com");
  ASSERT_TRUE(log) << log.error().message();
  ASSERT_EQ(rsc(register_key()), 2001);
  svc_->set_audit(log->get());
  proto::MafKeyDeregBatch body{{kRelKcId, "AAAAAAAAAAAAAAAAAAAAAA=="}, ""};
  const proto::Response rsp = call(*svc_, in_cse(),
                                   request(Operation::create, std::string(proto::kMafKeyDeregPath), "/in-cse",
                                           body.to_json(), proto::kTyMafKeyDereg));
  svc_->set_audit(nullptr);
  ASSERT_EQ(rsc(rsp), 2000);
  EXPECT_EQ(proto::MafKeyDeregResults::from_json(rsp.content)->rsc, (std::vector<int>{2002, 4004}));
  const auto recs = audit_records((*log)->path());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["event"], "refusal");
  EXPECT_EQ(recs[0]["reason"], "unknown_key");
  EXPECT_EQ(recs[0]["rsc"], 4004);
  EXPECT_EQ(recs[0]["to"], "/in-cse");
  EXPECT_EQ(recs[0]["resource"], std::string(proto::kMafKeysPrefix) + "AAAAAAAAAAAAAAAAAAAAAA%3D%3D");
}

}  // namespace
}  // namespace m2msec::maf
