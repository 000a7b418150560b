// The CSE behind Entity B, driven directly over a real SQLite store: the
// resource tree (TS-0001 9.6), the access decision on every operation
// (TS-0003 7.1, through authz) and every refusal a request can get.
//
// Expected values come from the spec text quoted above each test; the
// ACPs are written in the TS-0004 JSON serialisation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "m2msec/cse/cse.h"
#include "../store/test_util.h"

namespace m2msec::cse {
namespace {

using proto::Operation;
using store::testing::TempDir;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

// An originator bound by a security association, as Entity B hands it on.
Originator ae(const std::string& id, std::optional<std::string> ip = std::nullopt) { return {id, true, std::move(ip)}; }

proto::Request req(Operation op, std::string to, nlohmann::json content = nullptr, int ty = 0) {
  proto::Request r;
  r.op = op;
  r.to = std::move(to);
  r.rqi = "t1";
  r.content = std::move(content);
  r.ty = ty;
  return r;
}

nlohmann::json rule(std::vector<std::string> acor, unsigned acop) { return {{"acor", acor}, {"acop", acop}}; }

nlohmann::json acp_body(std::string rn, std::vector<nlohmann::json> pv, std::vector<nlohmann::json> pvs) {
  return {{"m2m:acp", {{"rn", rn}, {"pv", {{"acr", pv}}}, {"pvs", {{"acr", pvs}}}}}};
}

class CseTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    cse_.reset();
    store_.reset();
    store_ = store::testing::open_store(dir_.file("cse.db"));
    ASSERT_TRUE(store_);
    Settings s;
    s.cse_id = "/in-cse";
    s.csebase = "cb";
    s.sp_id = "sp.example.com";
    s.poa = {"https://in-cse.sp.example.com"};
    s.max_children = 50;
    auto c = Cse::open(s, store_->resources(), kNow);
    ASSERT_TRUE(c) << c.error().message();
    cse_ = std::move(*c);
  }

  proto::Response call(const Originator& from, const proto::Request& r) { return cse_->handle(from, r, kNow); }
  int rsc(const Originator& from, const proto::Request& r) { return static_cast<int>(call(from, r).rsc); }

  // registered creates the AE of |id| and returns its resource path.
  std::string registered(const std::string& id) {
    const auto r = call(ae(id), req(Operation::create, "/cb", {{"m2m:ae", {{"api", "Nlight"}}}}, 2));
    EXPECT_EQ(static_cast<int>(r.rsc), 2001) << r.content.dump();
    return "/cb/" + r.content["m2m:ae"]["rn"].get<std::string>();
  }

  // created makes a resource and returns its representation.
  nlohmann::json created(const Originator& from, const std::string& to, int ty, nlohmann::json body) {
    const auto r = call(from, req(Operation::create, to, std::move(body), ty));
    EXPECT_EQ(static_cast<int>(r.rsc), 2001) << to << " " << r.content.dump();
    return r.content;
  }

  // acp creates an <accessControlPolicy> under |parent| and returns its
  // resource ID (what accessControlPolicyIDs hold).
  std::string acp(const std::string& parent, nlohmann::json body) {
    return created(ae("Cae1"), parent, 1, std::move(body))["m2m:acp"]["ri"].get<std::string>();
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Cse> cse_;
};

// TS-0001 7.2: the AE-ID-Stem of each AE-ID form.
TEST(AeIdStem, EveryFormOfAnAeId) {
  EXPECT_EQ(ae_id_stem("Cae1"), "Cae1");
  EXPECT_EQ(ae_id_stem("/in-cse/Cae1"), "Cae1");
  EXPECT_EQ(ae_id_stem("//sp.example.com/in-cse/Cae1"), "Cae1");
  EXPECT_EQ(ae_id_stem("Sae2"), "Sae2");
  EXPECT_EQ(ae_id_stem("/Sae2"), "Sae2");
  EXPECT_EQ(ae_id_stem("//sp.example.com/Sae2"), "Sae2");
  EXPECT_EQ(ae_id_stem("/in-cse"), std::nullopt);  // a CSE-ID
  EXPECT_EQ(ae_id_stem(""), std::nullopt);
  EXPECT_EQ(ae_id_stem("bad id"), std::nullopt);
}

// Only AE-IDs of this CSE (C) or this SP (S) register here.
TEST(AeIdStem, OnlyThisCsesAndThisSpsAeIdsAreRegisteredHere) {
  Settings s;
  s.cse_id = "/in-cse";
  s.sp_id = "sp.example.com";
  EXPECT_EQ(ae_stem_here("Cae1", s), "Cae1");
  EXPECT_EQ(ae_stem_here("/in-cse/Cae1", s), "Cae1");
  EXPECT_EQ(ae_stem_here("//SP.example.com/in-cse/Cae1", s), "Cae1");
  EXPECT_EQ(ae_stem_here("/Sae2", s), "Sae2");
  EXPECT_EQ(ae_stem_here("//sp.example.com/Sae2", s), "Sae2");
  EXPECT_EQ(ae_stem_here("/dev-5", s), "");  // a CSE-ID
  EXPECT_EQ(ae_stem_here("/mn-cse/Cae1", s), std::nullopt);
  EXPECT_EQ(ae_stem_here("//other.example.com/in-cse/Cae1", s), std::nullopt);
  EXPECT_EQ(ae_stem_here("//other.example.com/Sae2", s), std::nullopt);
}

// The CSEBase's policy, made by the hosting CSE: every authenticated
// originator may retrieve it (acaf: TS-0003 7.1.2 rq_authn).
TEST_F(CseTest, TheCseBaseIsReadableByAuthenticatedOriginatorsOnly) {
  const auto cb = call(ae("Cae1"), req(Operation::retrieve, "/cb"));
  ASSERT_EQ(static_cast<int>(cb.rsc), 2000) << cb.content.dump();
  EXPECT_EQ(cb.content["m2m:cb"]["csi"], "/in-cse");
  EXPECT_EQ(cb.content["m2m:cb"]["ri"], "in-cse");
  EXPECT_EQ(cb.content["m2m:cb"]["ty"], 5);
  EXPECT_EQ(cb.content["m2m:cb"]["acpi"], nlohmann::json::array({"/in-cse/acp-csebase"}));
  for (const char* to : {"/in-cse", "/in-cse/cb", "cb", "//sp.example.com/in-cse/cb", "//SP.example.com/in-cse",
                         "/~/in-cse/cb", "/~/in-cse", "/_/sp.example.com/in-cse/cb"}) {
    EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, to)), 2000) << to;
  }
  // TS-0009 6.2 query parameters (discovery, result content) are not served.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/cb?fu=1&ty=3")), 5001);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/_/other.example.com/in-cse/cb")), 4004);
  EXPECT_EQ(rsc(Originator{"Cae1", false, std::nullopt}, req(Operation::retrieve, "/cb")), 4103);
  EXPECT_EQ(rsc(Originator{"", true, std::nullopt}, req(Operation::retrieve, "/cb")), 4107);
  // Nobody but the hosting CSE may change or delete it, or its policy.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, "/cb")), 4005);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, "/cb", {{"m2m:cb", {{"lbl", {"x"}}}}})), 4005);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/cb/acp-csebase")), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, "/cb/acp-csebase")), 4103);
  // Creating anything but an AE under the CSEBase needs a CREATE grant.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, "/cb", {{"m2m:cnt", {{"rn", "x"}}}}, 3)), 4103);
}

// TS-0001 10.2.2.2 and 7.2: registration binds the AE to the
// authenticated AE-ID; its resourceID is the AE-ID-Stem.
TEST_F(CseTest, AnAeRegistersUnderItsAuthenticatedAeId) {
  const auto r = call(ae("/in-cse/Cae1"), req(Operation::create, "/cb", {{"m2m:ae", {{"api", "Nlamp"}}}}, 2));
  ASSERT_EQ(static_cast<int>(r.rsc), 2001) << r.content.dump();
  EXPECT_EQ(r.content["m2m:ae"]["ri"], "Cae1");
  EXPECT_EQ(r.content["m2m:ae"]["rn"], "Cae1");
  EXPECT_EQ(r.content["m2m:ae"]["aei"], "/in-cse/Cae1");
  EXPECT_EQ(r.content["m2m:ae"]["pi"], "in-cse");
  EXPECT_EQ(r.content["m2m:ae"]["api"], "Nlamp");
  // One AE per AE-ID.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2)), 4105);
  // By name, by resource ID (unstructured, CSE- and SP-relative).
  for (const char* to : {"/cb/Cae1", "Cae1", "/in-cse/Cae1", "//sp.example.com/in-cse/cb/Cae1"}) {
    EXPECT_EQ(rsc(ae("/in-cse/Cae1"), req(Operation::retrieve, to)), 2000) << to;
  }
  // The default policy (no acpi): only its creator, the AE itself.
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, "/cb/Cae1")), 4103);
  // Registration needs a security association.
  EXPECT_EQ(rsc(Originator{"Cae3", false, std::nullopt}, req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2)),
            4103);
}

// No AE can take the name or the resource ID another AE-ID's AE is found
// by, and an AE-ID of another CSE or SP does not register here.
TEST_F(CseTest, NoAeTakesAnotherAesNameOrId) {
  // An AE-ID's AE is named by its stem.
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", "Cae1"}}}}, 2)), 4000);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", "lamp"}}}}, 2)), 4000);
  // A CSE-ID's AEs may not use the names of AE-ID-Stems.
  EXPECT_EQ(rsc(ae("/dev-5"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", "Cae1"}}}}, 2)), 4000);
  EXPECT_EQ(rsc(ae("/dev-5"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", "Sae1"}}}}, 2)), 4000);
  EXPECT_EQ(rsc(ae("/dev-5"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", "cb"}}}}, 2)), 4105);
  EXPECT_EQ(rsc(ae("/dev-5"), req(Operation::create, "/cb", {{"m2m:ae", {{"rn", ".."}}}}, 2)), 4000);
  const auto made = call(ae("/dev-5"), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2));
  ASSERT_EQ(static_cast<int>(made.rsc), 2001) << made.content.dump();
  EXPECT_EQ(made.content["m2m:ae"]["rn"], "dev-5");
  EXPECT_EQ(made.content["m2m:ae"]["ri"], "ae-dev-5");
  // Another CSE's or SP's AE-IDs.
  for (const char* id : {"/mn-cse/Cae1", "//other.example.com/in-cse/Cae1", "//other.example.com/Sae1"}) {
    EXPECT_EQ(rsc(ae(id), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2)), 4103) << id;
  }
  // An S-AE-ID in its SP-relative form is an AE-ID: one AE, by its stem.
  const auto s = call(ae("/Sae1"), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2));
  ASSERT_EQ(static_cast<int>(s.rsc), 2001) << s.content.dump();
  EXPECT_EQ(s.content["m2m:ae"]["ri"], "Sae1");
  EXPECT_EQ(rsc(ae("Sae1"), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2)), 4105);
}

TEST_F(CseTest, RefusesMalformedCreates) {
  const std::string a1 = registered("Cae1");
  for (const nlohmann::json& body :
       {nlohmann::json{{"m2m:cnt", {{"rn", 5}}}}, nlohmann::json{{"m2m:cnt", {{"mni", "x"}}}},
        nlohmann::json{{"m2m:cnt", {{"mni", -1}}}}, nlohmann::json{{"m2m:cnt", {{"mni", 18446744073709551615ULL}}}},
        nlohmann::json{{"m2m:cnt", {{"ri", "mine"}}}}, nlohmann::json{{"m2m:cnt", {{"ty", 3}}}},
        nlohmann::json{{"m2m:cnt", {{"rn", "a/b"}}}}, nlohmann::json{{"m2m:cnt", {{"rn", "la"}}}},
        nlohmann::json{{"m2m:cnt", {{"lbl", "x"}}}}, nlohmann::json{{"m2m:cnt", {{"acpi", {"nope"}}}}},
        nlohmann::json{{"m2m:cnt", {{"acpi", "nope"}}}}, nlohmann::json{{"m2m:ae", nlohmann::json::object()}},
        nlohmann::json{{"m2m:cnt", 5}}, nlohmann::json(nullptr), nlohmann::json::array()}) {
    EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, body, 3)), 4000) << body.dump();
  }
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:cnt", nlohmann::json::object()}}, 0)), 4000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:sub", nlohmann::json::object()}}, 23)), 5001);
  // TS-0001 9.6: an AE holds no contentInstance and no AE.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:cin", {{"con", "x"}}}}, 4)), 4108);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:ae", nlohmann::json::object()}}, 2)), 4108);
  // An ACP must have parsable pv and pvs.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:acp", {{"pv", {{"acr", nlohmann::json::array()}}}}}}, 1)),
            4000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, acp_body("p", {rule({"all"}, 64)}, {rule({"Cae1"}, 63)}), 1)),
            4000);
  // A contentInstance needs con, at most 32 KiB of it.
  const std::string cnt = a1 + "/" + created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "d"}}}})["m2m:cnt"]["rn"].get<std::string>();
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, cnt, {{"m2m:cin", {{"cnf", "text/plain:0"}}}}, 4)), 4000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, cnt, {{"m2m:cin", {{"con", std::string(40000, 'x')}}}}, 4)), 4102);
  // Not found.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1 + "/nothing", {{"m2m:cnt", nlohmann::json::object()}}, 3)), 4004);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "//other.example.com/in-cse/cb")), 4004);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/other-cse/cb")), 4004);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/cb//x")), 4004);
}

// Default policy (no accessControlPolicyIDs): the creator, and only it.
TEST_F(CseTest, WithoutAcpiOnlyTheCreatorHasAccess) {
  const std::string a1 = registered("Cae1");
  registered("Cae2");
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "private"}}}});
  const std::string priv = a1 + "/private";
  created(ae("Cae1"), priv, 4, {{"m2m:cin", {{"con", "21.5"}}}});
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, priv)), 2000);
  for (Operation op : {Operation::retrieve, Operation::del}) {
    EXPECT_EQ(rsc(ae("Cae2"), req(op, priv)), 4103);
  }
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, priv, {{"m2m:cin", {{"con", "x"}}}}, 4)), 4103);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::update, priv, {{"m2m:cnt", {{"lbl", {"x"}}}}})), 4103);
  // A second AE cannot create under another's AE either.
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, a1, {{"m2m:cnt", {{"rn", "intruder"}}}}, 3)), 4103);
  // The other forms of the creator's ID are the same originator
  // (TS-0003 table 7.1.3-2).
  EXPECT_EQ(rsc(ae("/in-cse/Cae1"), req(Operation::retrieve, priv)), 2000);
  EXPECT_EQ(rsc(ae("//sp.example.com/in-cse/Cae1"), req(Operation::retrieve, priv)), 2000);
}

// TS-0001 9.6.2 / TS-0003 7.1: privileges grant what acop says to whom acor
// says; permit-overrides across the ACPs of acpi.
TEST_F(CseTest, AnAcpGrantsASharedContainer) {
  const std::string a1 = registered("Cae1");
  registered("Cae2");
  registered("Cae3");
  const std::string share = acp(a1, acp_body("share", {rule({"Cae1"}, 63), rule({"Cae2"}, 1 | 2)}, {rule({"Cae1"}, 63)}));
  const std::string extra = acp(a1, acp_body("extra", {rule({"Cae3"}, 2)}, {rule({"Cae1"}, 63)}));
  const auto cnt = created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "shared"}, {"acpi", {"/in-cse/cb/Cae1/share"}}}}});
  const std::string shared = a1 + "/shared";
  // Cae2: create and retrieve, not update or delete.
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, shared, {{"m2m:cin", {{"con", "from 2"}}}}, 4)), 2001);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, shared)), 2000);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::update, shared, {{"m2m:cnt", {{"lbl", {"x"}}}}})), 4103);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::del, shared)), 4103);
  // Cae3 is in no rule of the one ACP the container names.
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::retrieve, shared)), 4103);
  // The contentInstance has no acpi: its container's govern it.
  auto list = store_->resources().children(cnt["m2m:cnt"]["ri"].get<std::string>(), 4, 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, shared + "/" + list->front().rn)), 2000);
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::retrieve, shared + "/" + list->front().rn)), 4103);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::del, shared + "/" + list->front().rn)), 4103);
  // Cae1 updates acpi alone, with its selfPrivileges: now both ACPs
  // apply, and Cae3 gets what the second grants (permit-overrides).
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, shared, {{"m2m:cnt", {{"acpi", {"/in-cse/" + share, extra}}}}})), 2004);
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::retrieve, shared)), 2000);
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::create, shared, {{"m2m:cin", {{"con", "x"}}}}, 4)), 4103);
  // The count of instances is computed.
  const auto got = call(ae("Cae1"), req(Operation::retrieve, shared));
  EXPECT_EQ(got.content["m2m:cnt"]["cni"], 1);
}

// TS-0001 9.6.2.3: accessControlPolicyIDs is updated alone, and only by an
// originator the selfPrivileges of the ACPs it names grant UPDATE.
TEST_F(CseTest, AcpiIsUpdatedAloneAndOnlyWithSelfPrivileges) {
  const std::string a1 = registered("Cae1");
  registered("Cae2");
  // Cae2 may do everything to the container but holds no selfPrivileges.
  const std::string p = acp(a1, acp_body("p", {rule({"Cae1", "Cae2"}, 63)}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {p}}}}});
  const std::string c = a1 + "/c";
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::update, c, {{"m2m:cnt", {{"lbl", {"ok"}}}}})), 2004);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::update, c, {{"m2m:cnt", {{"acpi", nlohmann::json::array()}}}})), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, c, {{"m2m:cnt", {{"acpi", {p}}, {"lbl", {"x"}}}}})), 4000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, c, {{"m2m:cnt", {{"acpi", {"missing"}}}}})), 4000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, c, {{"m2m:cnt", {{"acpi", nullptr}}}})), 2004);
  // acpi removed: the default policy, the creator only.
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, c)), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, c)), 2000);
}

// The <accessControlPolicy> itself is governed by its selfPrivileges
// (TS-0003 7.1.1), not by its creator.
TEST_F(CseTest, AnAcpIsGovernedByItsSelfPrivileges) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 1, acp_body("p", {rule({"Cae1"}, 63)}, {rule({"Cae2"}, 2)}));
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/p")), 2000);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/p")), 4103);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::update, a1 + "/p", {{"m2m:acp", {{"lbl", {"x"}}}}})), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, a1 + "/p")), 4103);
}

// accessControlPolicyIDs holds the policies' resource IDs, whatever form
// named them: a policy made later at the same path does not govern.
TEST_F(CseTest, AcpiKeepsResourceIdsNotPaths) {
  const std::string a1 = registered("Cae1");
  const std::string p = acp(a1, acp_body("p", {rule({"Cae1"}, 63)}, {rule({"Cae1"}, 63)}));
  const auto c = created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {"/in-cse/cb/Cae1/p"}}}}});
  EXPECT_EQ(c["m2m:cnt"]["acpi"], nlohmann::json::array({"/in-cse/" + p}));
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, a1 + "/p")), 2002);
  acp(a1, acp_body("p", {rule({"all"}, 63)}, {rule({"Cae1"}, 63)}));
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 4103);
  // An ACP and a contentInstance have no acpi to update.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, a1 + "/p", {{"m2m:acp", {{"acpi", {"/in-cse/" + p}}}}})), 4000);
}

// TS-0003 7.1.4: a decision that cannot be made is Deny. An acpi whose
// policies are all gone denies, instead of falling back to the default.
TEST_F(CseTest, ADanglingAcpiDenies) {
  const std::string a1 = registered("Cae1");
  const std::string p = acp(a1, acp_body("p", {rule({"Cae2"}, 2)}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {p}}}}});
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, a1 + "/p")), 2002);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c")), 4103);
}

// accessControlOriginators may name a <group>: its members are granted.
TEST_F(CseTest, AGroupInAcorGrantsItsMembers) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 9, {{"m2m:grp", {{"rn", "readers"}, {"mid", {"Cae2", "Cae3", "Cae2"}}}}});
  const auto g = call(ae("Cae1"), req(Operation::retrieve, a1 + "/readers"));
  ASSERT_EQ(static_cast<int>(g.rsc), 2000);
  EXPECT_EQ(g.content["m2m:grp"]["cnm"], 2);  // the duplicate went
  const std::string gid = "/in-cse/" + g.content["m2m:grp"]["ri"].get<std::string>();
  const std::string p = acp(a1, acp_body("p", {rule({gid}, 2)}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {p}}}}});
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae4"), req(Operation::retrieve, a1 + "/c")), 4103);
  // More members than mnm.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:grp", {{"mid", {"a", "b"}}, {"mnm", 1}}}}, 9)), 4000);
}

// Nested groups are flattened, a cycle ends, and a policy cannot make one
// decision expensive: past the lookup budget a group entry matches nobody.
TEST_F(CseTest, GroupExpansionIsBoundedAndFailsClosed) {
  const std::string a1 = registered("Cae1");
  auto group = [&](const std::string& rn, nlohmann::json mid) {
    return created(ae("Cae1"), a1, 9, {{"m2m:grp", {{"rn", rn}, {"mid", mid}}}})["m2m:grp"]["ri"].get<std::string>();
  };
  const std::string inner = group("inner", {"Cae2"});
  const std::string outer = group("outer", {"/in-cse/" + inner, "Cae3"});
  // A cycle: loop names outer, and is named by a group outer's policy uses.
  const std::string loop = group("loop", {"/in-cse/" + outer});
  const std::string p = acp(a1, acp_body("p", {rule({"/in-cse/" + loop}, 2)}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {"/in-cse/" + p}}}}});
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae3"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae4"), req(Operation::retrieve, a1 + "/c")), 4103);
  // One group listing inner in 128 spellings (the SP-ID's letters in upper
  // and lower case): each costs a lookup, the budget runs out, and Cae2 is
  // not found through it.
  nlohmann::json spellings = nlohmann::json::array();
  for (int i = 0; i < 128; ++i) {
    std::string sp = "sp.example.com";
    for (std::size_t b = 0, bit = 0; b < sp.size() && bit < 7; ++b) {
      if (sp[b] == '.') continue;
      if ((i >> bit++) & 1) sp[b] = static_cast<char>(std::toupper(static_cast<unsigned char>(sp[b])));
    }
    spellings.push_back("//" + sp + "/in-cse/" + inner);
  }
  const std::string wide = group("wide", spellings);
  const std::string q = acp(a1, acp_body("q", {rule({"/in-cse/" + wide}, 2)}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "d"}, {"acpi", {"/in-cse/" + q}}}}});
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/d")), 4103);
}

// accessControlContexts: the originator's address (acip), and a context
// that cannot be evaluated (no address known, a location) denies.
TEST_F(CseTest, AnAddressContextNeedsTheOriginatorsAddress) {
  const std::string a1 = registered("Cae1");
  nlohmann::json r = rule({"Cae2"}, 2);
  r["acco"] = {{{"acip", {{"ipv4", {"10.0.0.0/8"}}}}}};
  const std::string p = acp(a1, acp_body("p", {r}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {p}}}}});
  EXPECT_EQ(rsc(ae("Cae2", "10.1.2.3"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae2", "192.0.2.1"), req(Operation::retrieve, a1 + "/c")), 4103);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 4103);
}

// accessControlObjectDetails: a CREATE grant limited to child types.
TEST_F(CseTest, ObjectDetailsLimitWhatMayBeCreated) {
  const std::string a1 = registered("Cae1");
  nlohmann::json r = rule({"Cae2"}, 1);
  r["acod"] = {{{"chty", {4}}}};
  const std::string p = acp(a1, acp_body("p", {rule({"Cae1"}, 63), r}, {rule({"Cae1"}, 63)}));
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"acpi", {p}}}}});
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, a1 + "/c", {{"m2m:cin", {{"con", "x"}}}}, 4)), 2001);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::create, a1 + "/c", {{"m2m:cnt", {{"rn", "sub"}}}}, 3)), 4103);
}

// TS-0001 9.6.7: a container keeps maxNrOfInstances; the oldest go.
TEST_F(CseTest, MaxNrOfInstancesDropsTheOldest) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}, {"mni", 2}}}});
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    names.push_back(created(ae("Cae1"), a1 + "/c", 4, {{"m2m:cin", {{"con", std::to_string(i)}}}})["m2m:cin"]["rn"]);
  }
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c/" + names[0])), 4004);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c/" + names[1])), 4004);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c/" + names[3])), 2000);
  EXPECT_EQ(call(ae("Cae1"), req(Operation::retrieve, a1 + "/c")).content["m2m:cnt"]["cni"], 2);
  // A contentInstance is never updated.
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, a1 + "/c/" + names[3], {{"m2m:cin", {{"lbl", {"x"}}}}})), 4005);
}

TEST_F(CseTest, DeletingAnAeRemovesItsSubtreeAndItMayRegisterAgain) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}}}});
  created(ae("Cae1"), a1 + "/c", 4, {{"m2m:cin", {{"con", "x"}}}});
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::del, a1)), 2002);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c")), 4004);
  auto n = store_->resources().count_children("in-cse", 2);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  registered("Cae1");
}

TEST_F(CseTest, RefusesUpdatesThatDoNotFit) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}}}});
  for (const nlohmann::json& body :
       {nlohmann::json{{"m2m:cnt", {{"rn", "renamed"}}}}, nlohmann::json{{"m2m:cnt", {{"mni", "x"}}}},
        nlohmann::json{{"m2m:ae", {{"lbl", {"x"}}}}}, nlohmann::json{{"m2m:cnt", 1}}, nlohmann::json(nullptr),
        nlohmann::json{{"m2m:cnt", {{"cr", "Cae2"}}}}}) {
    EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, a1 + "/c", body)), 4000) << body.dump();
  }
  const auto up = call(ae("Cae1"), req(Operation::update, a1 + "/c", {{"m2m:cnt", {{"mni", 5}, {"lbl", {"a"}}}}}));
  ASSERT_EQ(static_cast<int>(up.rsc), 2004) << up.content.dump();
  EXPECT_EQ(up.content["m2m:cnt"]["mni"], 5);
  EXPECT_EQ(up.content["m2m:cnt"]["st"], 1);
  // stateTag counts every change.
  const auto again = call(ae("Cae1"), req(Operation::update, a1 + "/c", {{"m2m:cnt", {{"lbl", {"b"}}}}}));
  EXPECT_EQ(again.content["m2m:cnt"]["st"], 2);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::notify, a1)), 4005);
}

TEST_F(CseTest, TooManyChildrenAreRefused) {
  const std::string a1 = registered("Cae1");
  for (int i = 0; i < 50; ++i) created(ae("Cae1"), a1, 3, {{"m2m:cnt", nlohmann::json::object()}});
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, {{"m2m:cnt", nlohmann::json::object()}}, 3)), 5001);
}

// The CSEBase's policy is made again if a crash lost it between the two
// writes that make the tree; a store holding another CSE's tree is refused.
TEST_F(CseTest, OpenRepairsTheCseBasePolicyAndRefusesAnotherCsesTree) {
  ASSERT_TRUE(store_->resources().remove("acp-csebase"));
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/cb")), 4103);  // dangling: deny
  open();
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, "/cb")), 2000);
  Settings other;
  other.cse_id = "/other-cse";
  other.csebase = "cb";
  other.sp_id = "sp.example.com";
  auto c = Cse::open(other, store_->resources(), kNow);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::invalid_argument);
  other.cse_id = "/in-cse";
  other.csebase = "renamed";
  EXPECT_FALSE(Cse::open(other, store_->resources(), kNow));
}

// Resources larger than max_attributes are refused at CREATE and UPDATE.
TEST_F(CseTest, OversizedResourcesAreRefused) {
  const std::string a1 = registered("Cae1");
  std::vector<nlohmann::json> many;
  for (int i = 0; i < 4000; ++i) many.push_back(rule({"Cae" + std::to_string(i)}, 2));
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, a1, acp_body("big", many, {rule({"Cae1"}, 63)}), 1)), 4102);
  acp(a1, acp_body("small", {rule({"Cae1"}, 63)}, {rule({"Cae1"}, 63)}));
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/small")), 2000);
  // Cae1 is in the pvs: it may update the policy, not past the bound.
  nlohmann::json pv = {{"acr", many}};
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::update, a1 + "/small", {{"m2m:acp", {{"pv", pv}}}})), 4102);
}

// The tree lives in the store: a restarted CSE serves what was created,
// with the same access decisions.
TEST_F(CseTest, ResourcesSurviveARestart) {
  const std::string a1 = registered("Cae1");
  created(ae("Cae1"), a1, 3, {{"m2m:cnt", {{"rn", "c"}}}});
  open();
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::retrieve, a1 + "/c")), 2000);
  EXPECT_EQ(rsc(ae("Cae2"), req(Operation::retrieve, a1 + "/c")), 4103);
  EXPECT_EQ(rsc(ae("Cae1"), req(Operation::create, "/cb", {{"m2m:ae", nlohmann::json::object()}}, 2)), 4105);
}

}  // namespace
}  // namespace m2msec::cse
