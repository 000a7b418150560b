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
  ASSERT_TRUE(kr2);
  EXPECT_EQ(kr2->targets, std::vector<std::string>{"/in-cse"});
  MafKeyRetrieveResponse kv{key(1), 1795250580, "/dev-001", "sp.example.com", kSuidMafSaef};
  auto kv2 = MafKeyRetrieveResponse::from_json(kv.to_json());
  ASSERT_TRUE(kv2);
  EXPECT_EQ(kv2->source_id, "/dev-001");
  MafClientRegResponse cr{"reg-1", 0, "/dev-001", "", "00ff@maf.example.com"};
  auto cr2 = MafClientRegResponse::from_json(cr.to_json());
  ASSERT_TRUE(cr2);
  EXPECT_EQ(cr2->assigned_key_id, "00ff@maf.example.com");
}

TEST(Messages, RejectBadShapes) {
  using nlohmann::json;
  const json cases[] = {
      json(),                                              // null
      json::array(),                                       // not an object
      json{{"sec:xxx", json::object()}},                   // wrong wrapper
      json{{"sec:mkr", {{"fqdn", 1}}}},                    // wrong type
      json{{"sec:mkr", {{"fqdn", "a.b"}}}},                // missing suid
      json{{"sec:mkr", {{"fqdn", "a.b"}, {"suid", 10}, {"tids", "x"}}}},        // tids not array
      json{{"sec:mkr", {{"fqdn", "a.b"}, {"suid", 10}, {"et", "tomorrow"}}}},   // bad time
  };
  for (const json& j : cases) {
    auto m = MafKeyRegRequest::from_json(j);
    ASSERT_FALSE(m) << j.dump();
    EXPECT_EQ(m.error().code(), Errc::malformed_message) << j.dump();
  }
  auto short_key = CredentialResponse::from_json(
      json{{"sec:crd", {{"sts", true}, {"kv", "AAAA"}, {"ide", "x"}, {"kid", "y"}}}});
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().detail().find("32 bytes"), std::string::npos);
  auto not_ok = CredentialResponse::from_json(json{{"sec:crd", {{"sts", false}}}});
  ASSERT_FALSE(not_ok);
  auto bad_ins = EnrolResponse::from_json(
      json{{"sec:enr", {{"ide", "x"}, {"kei", "y"}, {"ins", {{{"typ", "gba"}, {"tgt", "t"}, {"kid", "k"}}}}}}});
  ASSERT_FALSE(bad_ins);
}

}  // namespace
}  // namespace m2msec::proto
