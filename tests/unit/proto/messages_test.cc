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

// MAF Key Push in batches (docs/protocol.md 3.6): the entries keep their
// order and each its own key; the shape is bounded.
TEST(Messages, MafKeyPushBatchRoundTripAndBounds) {
  MafKeyPushBatch b;
  b.keys.push_back({"AAECAwQFBgcICQoLDA0ODw==@maf.example.com", key(1), 1795250580, "/dev-1", "sp.example.com",
                    kSuidMafSaef});
  b.keys.push_back({"EBESExQVFhcYGRobHB0eHw==@maf.example.com", key(2), 1795250581, "Cae-2", "", kSuidMafSaef});
  const nlohmann::json wire = b.to_json();
  ASSERT_TRUE(wire["sec:mkb"]["mkp"].is_array());
  // Each entry is a sec:mkp body: 1795250580 = 2026-11-21T08:43:00Z.
  EXPECT_EQ(wire["sec:mkb"]["mkp"][0]["et"], "20261121T084300");
  auto b2 = MafKeyPushBatch::from_json(wire);
  ASSERT_TRUE(b2) << b2.error().message();
  ASSERT_EQ(b2->keys.size(), 2u);
  EXPECT_EQ(b2->keys[0].kc_id, "AAECAwQFBgcICQoLDA0ODw==@maf.example.com");
  std::string ones;  // key(1): 32 bytes of 0x01
  for (int i = 0; i < 32; ++i) ones += "01";
  EXPECT_EQ(hex_encode(b2->keys[0].key.view()), ones);
  EXPECT_EQ(hex_encode(b2->keys[1].key.view()), hex_encode(key(2).view()));
  EXPECT_EQ(b2->keys[1].expiration, 1795250581);
  EXPECT_EQ(b2->keys[1].source_id, "Cae-2");

  // Empty, too long, not a list, or one entry that does not parse: the
  // whole batch is refused, naming the entry.
  auto empty = MafKeyPushBatch::from_json({{"sec:mkb", {{"mkp", nlohmann::json::array()}}}});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().detail(), "sec:mkb.mkp has fewer than 1 elements");
  nlohmann::json many = wire;
  while (many["sec:mkb"]["mkp"].size() <= kMaxPushBatch) many["sec:mkb"]["mkp"].push_back(wire["sec:mkb"]["mkp"][0]);
  EXPECT_FALSE(MafKeyPushBatch::from_json(many));
  EXPECT_EQ(MafKeyPushBatch::from_json(many).error().detail(), "sec:mkb.mkp has more than 64 elements");
  many["sec:mkb"]["mkp"].erase(many["sec:mkb"]["mkp"].size() - 1);
  EXPECT_TRUE(MafKeyPushBatch::from_json(many));  // kMaxPushBatch entries are fine
  EXPECT_FALSE(MafKeyPushBatch::from_json({{"sec:mkb", {{"mkp", "x"}}}}));
  EXPECT_FALSE(MafKeyPushBatch::from_json({{"sec:mkp", wire["sec:mkb"]["mkp"][0]}}));
  nlohmann::json bad = wire;
  bad["sec:mkb"]["mkp"][1]["kv"] = 5;
  auto refused = MafKeyPushBatch::from_json(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("mkp[1]"), std::string::npos) << refused.error().message();

  MafKeyPushResults r{{2001, 4103}};
  auto r2 = MafKeyPushResults::from_json(r.to_json());
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(r2->rsc, (std::vector<int>{2001, 4103}));
  // The answer comes from a peer: every code is range-checked as 64-bit
  // before it is narrowed (4294969297 would narrow to 2001 as an int).
  using json = nlohmann::json;
  const std::vector<std::pair<json, std::string>> bad_results = {
      {json::array({2001, "4103"}), "sec:mkbr.rsc has an element not an integer"},
      {json::array({2001, 2001.0}), "sec:mkbr.rsc has an element not an integer"},
      {json::array({2001, 42}), "sec:mkbr.rsc has an element out of range 1000..9999"},
      {json::array({4294969297LL}), "sec:mkbr.rsc has an element out of range 1000..9999"},
      {json::array({18446744073709551615ULL}), "sec:mkbr.rsc has an element out of range 1000..9999"},
      {json::array({-2001}), "sec:mkbr.rsc has an element out of range 1000..9999"},
      {json(2001), "sec:mkbr.rsc is not an array"},
      {json(std::vector<int>(kMaxPushBatch + 1, 2001)), "sec:mkbr.rsc has more than 64 elements"},
      {json(), "sec:mkbr.rsc is missing"},
  };
  for (const auto& [rsc, why] : bad_results) {
    auto got = MafKeyPushResults::from_json({{"sec:mkbr", {{"rsc", rsc}}}});
    ASSERT_FALSE(got) << rsc.dump();
    EXPECT_EQ(got.error().detail(), why) << rsc.dump();
  }
}

// sec:mkd / sec:mkdr (docs/protocol.md §3.4, batches): the wire form, and
// every bound.
TEST(Messages, MafKeyDeregBatchRoundTripAndBounds) {
  using json = nlohmann::json;
  MafKeyDeregBatch b{{"AAECAwQFBgcICQoLDA0ODw==", "EBESExQVFhcYGRobHB0eHw=="}, "0123456789abcdef"};
  const json wire = b.to_json();
  EXPECT_EQ(wire.dump(),
            R"({"sec:mkd":{"hld":"0123456789abcdef","kid":["AAECAwQFBgcICQoLDA0ODw==","EBESExQVFhcYGRobHB0eHw=="]}})");
  auto b2 = MafKeyDeregBatch::from_json(wire);
  ASSERT_TRUE(b2) << b2.error().message();
  EXPECT_EQ(b2->relative_ids, b.relative_ids);
  EXPECT_EQ(b2->holder, b.holder);
  auto no_holder = MafKeyDeregBatch::from_json(MafKeyDeregBatch{{"x"}, ""}.to_json());
  ASSERT_TRUE(no_holder);
  EXPECT_EQ(no_holder->holder, "");
  EXPECT_FALSE((MafKeyDeregBatch{{"x"}, ""}.to_json()["sec:mkd"].contains("hld")));
  EXPECT_TRUE(MafKeyDeregBatch::from_json({{"sec:mkd", {{"kid", std::vector<std::string>(kMaxDeregBatch, "x")}}}}));
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"kid", json::array()}}, "sec:mkd.kid is empty"},
      {{{"kid", std::vector<std::string>(kMaxDeregBatch + 1, "x")}}, "sec:mkd.kid has more than 64 elements"},
      {{{"kid", "x"}}, "sec:mkd.kid is not an array"},
      {{{"kid", json::array({"x", 5})}}, "sec:mkd.kid has a non-string element"},
      {json::object(), "sec:mkd.kid is missing"},
      {{{"kid", {"x"}}, {"hld", "a/b"}}, "sec:mkd.hld is not a holder ID"},
      {{{"kid", {"x"}}, {"hld", std::string(65, 'a')}}, "sec:mkd.hld is longer than 64 bytes"},
  };
  for (const auto& [body, why] : bad) {
    auto got = MafKeyDeregBatch::from_json({{"sec:mkd", body}});
    ASSERT_FALSE(got) << body.dump();
    EXPECT_EQ(got.error().detail(), why) << body.dump();
  }
  EXPECT_FALSE(MafKeyDeregBatch::from_json({{"sec:mkb", {{"kid", {"x"}}}}}));

  auto r = MafKeyDeregResults::from_json(MafKeyDeregResults{{2002, 4004}}.to_json());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->rsc, (std::vector<int>{2002, 4004}));
  EXPECT_EQ(MafKeyDeregResults{{2002}}.to_json().dump(), R"({"sec:mkdr":{"rsc":[2002]}})");
  EXPECT_EQ(MafKeyDeregResults::from_json({{"sec:mkdr", {{"rsc", {4294969298LL}}}}}).error().detail(),
            "sec:mkdr.rsc has an element out of range 1000..9999");
  EXPECT_EQ(MafKeyDeregResults::from_json({{"sec:mkdr", {{"rsc", std::vector<int>(kMaxDeregBatch + 1, 2002)}}}})
                .error()
                .detail(),
            "sec:mkdr.rsc has more than 64 elements");
  EXPECT_FALSE(MafKeyDeregResults::from_json({{"sec:mkbr", {{"rsc", {2002}}}}}));
}

TEST(Messages, CredentialFetchBatchRoundTripAndBounds) {
  using json = nlohmann::json;
  CredentialFetchBatch b{{{"AAECAwQFBgcICQoLDA0ODw==@mef.example.com", ""},
                          {"QUJD@bsf.example.com", "01000100ae"}}};
  const json wire = b.to_json();
  EXPECT_EQ(wire.dump(),
            R"({"sec:fcb":{"fcr":[{"kid":"AAECAwQFBgcICQoLDA0ODw==@mef.example.com"},)"
            R"({"kid":"QUJD@bsf.example.com","ua":"01000100ae"}]}})");
  auto b2 = CredentialFetchBatch::from_json(wire);
  ASSERT_TRUE(b2) << b2.error().message();
  ASSERT_EQ(b2->entries.size(), 2u);
  EXPECT_EQ(b2->entries[0].ke_id, b.entries[0].ke_id);
  EXPECT_EQ(b2->entries[0].ua, "");
  EXPECT_EQ(b2->entries[1].ua, "01000100ae");
  EXPECT_TRUE(CredentialFetchBatch::from_json(
      {{"sec:fcb", {{"fcr", std::vector<json>(kMaxFetchBatch, json{{"kid", "x"}})}}}}));
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"fcr", json::array()}}, "sec:fcb.fcr has fewer than 1 elements"},
      {{{"fcr", std::vector<json>(kMaxFetchBatch + 1, json{{"kid", "x"}})}}, "sec:fcb.fcr has more than 64 elements"},
      {{{"fcr", "x"}}, "sec:fcb.fcr is not an array"},
      {json::object(), "sec:fcb.fcr is missing"},
      {{{"fcr", {"x"}}}, "missing object sec:fcb.fcr[0]"},
      {{{"fcr", {json{{"kid", "x"}}, json{{"ua", "01"}}}}}, "sec:fcb.fcr[1].kid is missing"},
      {{{"fcr", {json{{"kid", 5}}}}}, "sec:fcb.fcr[0].kid is not a string"},
      {{{"fcr", {json{{"kid", "x"}, {"ua", std::string(65, '0')}}}}}, "sec:fcb.fcr[0].ua is longer than 64 bytes"},
  };
  for (const auto& [body, why] : bad) {
    auto got = CredentialFetchBatch::from_json({{"sec:fcb", body}});
    ASSERT_FALSE(got) << body.dump();
    EXPECT_EQ(got.error().detail(), why) << body.dump();
  }
  EXPECT_FALSE(CredentialFetchBatch::from_json({{"sec:mkd", {{"fcr", {json{{"kid", "x"}}}}}}}));

  CredentialFetchResults r{{{2000, CredentialResponse{SecretBytes(std::vector<std::uint8_t>(32, 7)), "/d-1", 0, "k"}.to_json()},
                            {4004, {{"m2m:dbg", "KeID not found"}}}}};
  auto r2 = CredentialFetchResults::from_json(r.to_json());
  ASSERT_TRUE(r2) << r2.error().message();
  ASSERT_EQ(r2->entries.size(), 2u);
  EXPECT_EQ(r2->entries[0].rsc, 2000);
  auto cred = CredentialResponse::from_json(r2->entries[0].content);
  ASSERT_TRUE(cred) << cred.error().message();
  EXPECT_EQ(cred->enrolee_id, "/d-1");
  EXPECT_EQ(r2->entries[1].rsc, 4004);
  EXPECT_EQ(r2->entries[1].content.dump(), R"({"m2m:dbg":"KeID not found"})");
  const std::vector<std::pair<json, std::string>> bad_results = {
      {{{"rsp", json::array()}}, "sec:fcbr.rsp has fewer than 1 elements"},
      {{{"rsp", {json{{"rsc", 2000}}}}}, "sec:fcbr.rsp[0].pc is not an object"},
      {{{"rsp", {json{{"rsc", 2000}, {"pc", "x"}}}}}, "sec:fcbr.rsp[0].pc is not an object"},
      {{{"rsp", {json{{"pc", json::object()}}}}}, "sec:fcbr.rsp[0].rsc is missing"},
      {{{"rsp", {json{{"rsc", 99999}, {"pc", json::object()}}}}}, "sec:fcbr.rsp[0].rsc is out of range 1000..9999"},
  };
  for (const auto& [body, why] : bad_results) {
    auto got = CredentialFetchResults::from_json({{"sec:fcbr", body}});
    ASSERT_FALSE(got) << body.dump();
    EXPECT_EQ(got.error().detail(), why) << body.dump();
  }
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

namespace m2msec::proto {
namespace {

// The revocation feed (docs/protocol.md §3.7): a round trip, and each bad
// shape refused naming the field. A holder acts on these entries, so an
// entry out of order or past the head must not parse.
TEST(Messages, RevocationFeedRoundTripAndBadShapes) {
  using nlohmann::json;
  RevocationFeed f;
  f.epoch = std::string(32, 'a');
  f.head = 9;
  f.more = true;
  f.entries.push_back({7, "ke", "k1@mef.example.com", "/d1", "kpsa-1@mef.example.com", 1'900'000'000, 1'800'000'000});
  f.entries.push_back({9, "km", "00ff@maf.example.com", "/d2", "", 0, 1'800'000'001});
  auto back = RevocationFeed::from_json(f.to_json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->epoch, f.epoch);
  EXPECT_EQ(back->head, 9);
  EXPECT_TRUE(back->more);
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[0].kpsa_id, "kpsa-1@mef.example.com");
  EXPECT_EQ(back->entries[0].expiration, 1'900'000'000);
  EXPECT_EQ(back->entries[1].expiration, 0);  // never expires: sent without et
  EXPECT_FALSE(f.to_json()["sec:rvf"]["ent"][1].contains("et"));
  EXPECT_EQ(back->entries[1].revoked_at, 1'800'000'001);

  const json valid = f.to_json();
  auto entry_with = [&](std::size_t i, const char* field, json v) {
    json j = valid;
    j["sec:rvf"]["ent"][i][field] = std::move(v);
    return j;
  };
  json no_ep = valid;
  no_ep["sec:rvf"].erase("ep");
  json ent_obj = valid;
  ent_obj["sec:rvf"]["ent"] = json::object();
  json too_many = valid;
  too_many["sec:rvf"]["ent"] = json::array();
  for (int i = 1; i <= 1001; ++i) too_many["sec:rvf"]["ent"].push_back({{"sn", i}, {"knd", "kc"}, {"kid", "x"}});
  too_many["sec:rvf"]["hd"] = 2000;
  json neg_head = valid;
  neg_head["sec:rvf"]["hd"] = -1;
  struct Case {
    json body;
    std::string reason;
  };
  const Case cases[] = {
      {no_ep, "sec:rvf.ep is missing"},
      {neg_head, "sec:rvf.hd is out of range 0..9223372036854775807"},
      {ent_obj, "sec:rvf.ent is not an array"},
      {too_many, "sec:rvf.ent has more than 1000 entries"},
      {entry_with(0, "knd", "kx"), "ent.knd is not ke, km or kc"},
      {entry_with(0, "sn", 0), "ent.sn is out of range 1..9223372036854775807"},
      {entry_with(0, "sn", 9), "ent.sn is out of order or after hd"},   // not before the next one
      {entry_with(1, "sn", 10), "ent.sn is out of order or after hd"},  // after the head
      {entry_with(0, "kid", 5), "ent.kid is not a string"},
      {entry_with(0, "et", "soon"), "ent.et is not a YYYYMMDDTHHMMSS time"},
  };
  for (const Case& c : cases) {
    auto m = RevocationFeed::from_json(c.body);
    ASSERT_FALSE(m) << c.body.dump().substr(0, 300);
    EXPECT_EQ(m.error().code(), Errc::malformed_message);
    EXPECT_EQ(m.error().detail(), c.reason) << c.body.dump().substr(0, 300);
  }
}

}  // namespace
}  // namespace m2msec::proto
