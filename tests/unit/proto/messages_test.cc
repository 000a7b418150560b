#include <gtest/gtest.h>

#include "m2msec/core/encoding.h"
#include "m2msec/proto/messages.h"

namespace m2msec::proto {
namespace {

SecretBytes key(std::uint8_t fill) { return SecretBytes(std::vector<std::uint8_t>(32, fill)); }

TEST(Messages, EnrolRoundTrip) {
  EnrolRequest req;
  req.maf_id = "maf.example.com";
  auto back = EnrolRequest::from_json(req.to_json());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->maf_id, "maf.example.com");
  EXPECT_TRUE(back->maf_enrolment);

  EnrolResponse rsp;
  rsp.enrolee_id = "/dev-001";
  rsp.ke_id = "AAECAwQFBgcICQoLDA0ODw==@mef.example.com";
  rsp.expiry = 1795250580;
  rsp.instructions.push_back({EnrolInstruction::Kind::maf, "maf.example.com", "psk", "/maf", "/maf", "/maf/keys/",
                              rsp.ke_id, 1795250580});
  rsp.instructions.push_back({EnrolInstruction::Kind::kpsa, "/in-cse", "", "", "", "", "0001@mef.example.com", 0});
  auto r2 = EnrolResponse::from_json(rsp.to_json());
  ASSERT_TRUE(r2) << r2.error().message();
  ASSERT_EQ(r2->instructions.size(), 2u);
  EXPECT_EQ(r2->instructions[0].kind, EnrolInstruction::Kind::maf);
  EXPECT_EQ(r2->instructions[0].lifetime, 1795250580);
  EXPECT_EQ(r2->instructions[1].target, "/in-cse");
  EXPECT_EQ(r2->expiry, 1795250580);
}

TEST(Messages, CredentialCarriesKeyAsBase64) {
  CredentialResponse c{key(0xab), "/dev-001", 1795250580, "kid@maf.example.com"};
  const auto j = c.to_json();
  EXPECT_EQ(j["sec:crd"]["kv"], base64_encode(std::vector<std::uint8_t>(32, 0xab)));
  auto back = CredentialResponse::from_json(j);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->key == c.key);
}

TEST(Messages, MafRoundTrips) {
  MafKeyRegRequest kr{"maf.example.com", 1795250580, "sp.example.com", kSuidMafSaef, {"/in-cse"}};
  auto kr2 = MafKeyRegRequest::from_json(kr.to_json());
  ASSERT_TRUE(kr2) << kr2.error().message();
  EXPECT_EQ(kr2->maf_fqdn, "maf.example.com");
  EXPECT_EQ(kr2->expiration, 1795250580);
  EXPECT_EQ(kr2->admin_fqdn, "sp.example.com");
  EXPECT_EQ(kr2->suid, kSuidMafSaef);
  EXPECT_EQ(kr2->targets, std::vector<std::string>{"/in-cse"});

  // Kc travels only here (8.8.2.8): the value and its expiry must survive.
  std::vector<std::uint8_t> kc(32);
  for (std::size_t i = 0; i < kc.size(); ++i) kc[i] = static_cast<std::uint8_t>(7 * i + 1);
  MafKeyRetrieveResponse kv{SecretBytes(kc), 1795250580, "/dev-001", "sp.example.com", kSuidMafSaef};
  const nlohmann::json wire = kv.to_json();
  // 1795250580 = 2026-11-21T08:43:00Z (python3: datetime.fromtimestamp(1795250580, timezone.utc)).
  EXPECT_EQ(wire["sec:mkr"]["et"], "20261121T084300");
  auto kv2 = MafKeyRetrieveResponse::from_json(wire);
  ASSERT_TRUE(kv2) << kv2.error().message();
  EXPECT_EQ(hex_encode(kv2->key.view()), hex_encode(kc));
  EXPECT_EQ(kv2->expiration, 1795250580);
  EXPECT_EQ(kv2->source_id, "/dev-001");
  EXPECT_EQ(kv2->admin_fqdn, "sp.example.com");
  EXPECT_EQ(kv2->suid, kSuidMafSaef);

  MafKeyRegResponse rr{"ESIzRFVmd4iZqrvM3e7/AA==", 1795250580, "/dev-001", "sp.example.com", kSuidMafSaef,
                       {"/in-cse"}};
  auto rr2 = MafKeyRegResponse::from_json(rr.to_json());
  ASSERT_TRUE(rr2) << rr2.error().message();
  EXPECT_EQ(rr2->relative_key_id, "ESIzRFVmd4iZqrvM3e7/AA==");
  EXPECT_EQ(rr2->expiration, 1795250580);
  EXPECT_EQ(rr2->source_id, "/dev-001");
  EXPECT_EQ(rr2->suid, kSuidMafSaef);
  EXPECT_EQ(rr2->targets, std::vector<std::string>{"/in-cse"});

  MafClientRegResponse cr{"reg-1", 1795250580, "/dev-001", "sp.example.com", "00ff@maf.example.com"};
  auto cr2 = MafClientRegResponse::from_json(cr.to_json());
  ASSERT_TRUE(cr2) << cr2.error().message();
  EXPECT_EQ(cr2->reg_id, "reg-1");
  EXPECT_EQ(cr2->expiration, 1795250580);
  EXPECT_EQ(cr2->client_id, "/dev-001");
  EXPECT_EQ(cr2->admin_fqdn, "sp.example.com");
  EXPECT_EQ(cr2->assigned_key_id, "00ff@maf.example.com");
}

// Each bad shape is a valid key registration with exactly one thing
// changed, and must be refused for that thing: the error names the field.
TEST(Messages, RejectBadShapes) {
  using nlohmann::json;
  const json valid = {{"sec:mkr", {{"fqdn", "a.b"}, {"suid", 32}, {"tids", {"/in-cse"}}, {"et", "20300101T000000"}}}};
  ASSERT_TRUE(MafKeyRegRequest::from_json(valid)) << "the control must parse";
  auto with = [&](const char* field, json v) {
    json j = valid;
    j["sec:mkr"][field] = std::move(v);
    return j;
  };
  auto without = [&](const char* field) {
    json j = valid;
    j["sec:mkr"].erase(field);
    return j;
  };
  struct Case {
    json body;
    std::string reason;  // expected in the error detail
  };
  const Case cases[] = {
      {json(), "body must be a JSON object with sec:mkr"},
      {json::array(), "body must be a JSON object with sec:mkr"},
      {json{{"sec:xxx", valid["sec:mkr"]}}, "missing object sec:mkr"},
      {json{{"sec:mkr", json::array()}}, "missing object sec:mkr"},
      {with("fqdn", 1), "sec:mkr.fqdn is not a string"},
      {without("fqdn"), "sec:mkr.fqdn is missing"},
      {without("suid"), "sec:mkr.suid is missing"},
      {with("suid", "32"), "sec:mkr.suid is not an integer"},
      // Issue 9: 4294967306 was narrowed to 10 by get<int>().
      {with("suid", 4294967306LL), "sec:mkr.suid is out of range 0..65535"},
      {with("suid", 18446744073709551615ULL), "sec:mkr.suid is out of range 0..65535"},
      {with("suid", -1), "sec:mkr.suid is out of range 0..65535"},
      {with("tids", "x"), "sec:mkr.tids is not an array"},
      {with("tids", {"/in-cse", 7}), "sec:mkr.tids has a non-string element"},
      {with("tids", json(std::vector<std::string>(65, "/in-cse"))), "sec:mkr.tids has more than 64 elements"},
      {with("et", "tomorrow"), "sec:mkr.et is not a YYYYMMDDTHHMMSS time"},
  };
  for (const Case& c : cases) {
    auto m = MafKeyRegRequest::from_json(c.body);
    ASSERT_FALSE(m) << c.body.dump();
    EXPECT_EQ(m.error().code(), Errc::malformed_message) << c.body.dump();
    EXPECT_EQ(m.error().detail(), c.reason) << c.body.dump();
  }

  const json crd = {{"sec:crd",
                     {{"sts", true},
                      {"kv", "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o="},
                      {"ide", "/dev-1"},
                      {"kid", "k@mef.example.com"}}}};
  ASSERT_TRUE(CredentialResponse::from_json(crd)) << "the control must parse";
  json short_key = crd;
  short_key["sec:crd"]["kv"] = "AAAA";
  auto sk = CredentialResponse::from_json(short_key);
  ASSERT_FALSE(sk);
  EXPECT_EQ(sk.error().detail(), "sec:crd.kv is not 32 bytes");
  json not_ok = crd;
  not_ok["sec:crd"]["sts"] = false;
  auto no = CredentialResponse::from_json(not_ok);
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().detail(), "sec:crd.sts is not true");

  const json enr = {{"sec:enr",
                     {{"ide", "/dev-1"},
                      {"kei", "k@mef.example.com"},
                      {"ins", {{{"typ", "kpsa"}, {"tgt", "/in-cse"}, {"kid", "x@mef.example.com"}}}}}}};
  ASSERT_TRUE(EnrolResponse::from_json(enr)) << "the control must parse";
  json bad_ins = enr;
  bad_ins["sec:enr"]["ins"][0]["typ"] = "gba";
  auto bi = EnrolResponse::from_json(bad_ins);
  ASSERT_FALSE(bi);
  EXPECT_EQ(bi.error().detail(), "sec:ins.typ is neither maf nor kpsa");
}

}  // namespace
}  // namespace m2msec::proto
