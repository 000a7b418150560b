// service::peer_entity_id: which oneM2M ID a certificate binds a session
// to (TS-0003 8.1.2.5 "a match is a URI ... that is an exact match for the
// Absolute AE-ID"; a CSE-ID certificate matches "the public domain name
// representation of the CSE-ID"). Issue 11: it took the first SAN URI
// whatever its form, so a certificate naming "/in-cse" as a URI bound as
// Entity B.
#include <gtest/gtest.h>

#include "m2msec/service/runtime.h"

namespace m2msec::service {
namespace {

Result<std::string> bind(std::vector<std::string> uris, std::vector<std::string> dns,
                         tls::AnchorRole have = tls::AnchorRole::device,
                         tls::AnchorRole want = tls::AnchorRole::device) {
  tls::PeerIdentity p;
  p.kind = tls::PeerIdentity::Kind::certificate;
  p.san_uris = std::move(uris);
  p.dns_names = std::move(dns);
  p.anchor_role = have;
  return peer_entity_id(p, "sp.example.com", want);
}

TEST(PeerEntityId, BindsAnAbsoluteAeIdOfThisSp) {
  EXPECT_EQ(bind({"//sp.example.com/Sae-1"}, {}).value_or(""), "/Sae-1");
  EXPECT_EQ(bind({"//sp.example.com/in-cse/Cae-1"}, {}).value_or(""), "/in-cse/Cae-1");
  EXPECT_EQ(bind({"//SP.Example.com/Sae-1"}, {}).value_or(""), "/Sae-1");  // the SP-ID is a domain name
  // A name that does not bind is skipped, not fatal, if another one does.
  EXPECT_EQ(bind({"/in-cse", "//sp.example.com/Sae-2"}, {}).value_or(""), "/Sae-2");
}

TEST(PeerEntityId, BindsACseIdByItsPublicDomainName) {
  EXPECT_EQ(bind({}, {"in-cse.sp.example.com"}).value_or(""), "/in-cse");
}

TEST(PeerEntityId, RefusesEveryOtherName) {
  for (const auto& [uris, dns] : std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>{
           {{"/in-cse"}, {}},                           // SP-relative, not absolute
           {{"/Sae-1"}, {}},                            // SP-relative AE-ID
           {{"//other.example.com/Sae-1"}, {}},         // another SP
           {{"//sp.example.com/in-cse"}, {}},           // a CSE-ID is not an AE-ID certificate
           {{"//sp.example.com/xae-1"}, {}},            // neither S- nor C-type
           {{"//sp.example.com/Cae-1"}, {}},            // C-type needs its CSE
           {{"//sp.example.com/in-cse/Sae-1"}, {}},     // S-type has no CSE
           {{"//sp.example.com/a/b/Cae-1"}, {}},        // too deep
           {{"//sp.example.com/in-cse/Cae 1"}, {}},     // not an ID
           {{"https://sp.example.com/in-cse"}, {}},     // not an ID at all
           {{}, {"sp.example.com"}},                    // the SP domain itself
           {{}, {"a.in-cse.sp.example.com"}},           // deeper than one label
           {{}, {"in-cse.sp.example.com.evil.org"}},    // another domain
           {{}, {}},
       }) {
    auto r = bind(uris, dns);
    ASSERT_FALSE(r) << (uris.empty() ? dns.empty() ? "" : dns[0] : uris[0]) << " bound as " << *r;
    EXPECT_EQ(r.error().code(), Errc::peer_name_mismatch);
  }
  tls::PeerIdentity psk;
  psk.kind = tls::PeerIdentity::Kind::psk;
  EXPECT_FALSE(peer_entity_id(psk, "sp.example.com", tls::AnchorRole::device));
}

// Issue 11 item 3: "a CA trusted to vouch for devices must not be able to
// vouch for a MAF". The name rules above are reached only when the chain
// ended at an anchor of the required set.
TEST(PeerEntityId, BindsOnlyWithTheRequiredAnchorRole) {
  using tls::AnchorRole;
  EXPECT_EQ(bind({}, {"in-cse.sp.example.com"}, AnchorRole::infrastructure, AnchorRole::infrastructure).value_or(""),
            "/in-cse");
  for (const auto& [have, want] : std::vector<std::pair<AnchorRole, AnchorRole>>{
           {AnchorRole::device, AnchorRole::infrastructure},  // a device CA naming /in-cse
           {AnchorRole::infrastructure, AnchorRole::device},  // an infra CA naming a device
           {AnchorRole::none, AnchorRole::infrastructure},    // an anchor in no set
           {AnchorRole::none, AnchorRole::device},
           {AnchorRole::none, AnchorRole::none}}) {           // "none" is never a requirement met
    auto r = bind({"//sp.example.com/Sae-1"}, {"in-cse.sp.example.com"}, have, want);
    ASSERT_FALSE(r) << anchor_role_name(have) << " bound for " << anchor_role_name(want) << " as " << *r;
    EXPECT_EQ(r.error().code(), Errc::certificate_rejected);
  }
}

TEST(PeerHasFqdn, MatchesOnlyWithTheRequiredAnchorRole) {
  using tls::AnchorRole;
  tls::PeerIdentity p;
  p.kind = tls::PeerIdentity::Kind::certificate;
  p.dns_names = {"MAF.example.com"};
  p.anchor_role = AnchorRole::infrastructure;
  EXPECT_TRUE(peer_has_fqdn(p, "maf.example.com", AnchorRole::infrastructure));
  EXPECT_FALSE(peer_has_fqdn(p, "maf.example.com", AnchorRole::device));
  EXPECT_FALSE(peer_has_fqdn(p, "maf2.example.com", AnchorRole::infrastructure));
  p.anchor_role = AnchorRole::device;
  EXPECT_FALSE(peer_has_fqdn(p, "maf.example.com", AnchorRole::infrastructure));
  p.anchor_role = AnchorRole::none;
  EXPECT_FALSE(peer_has_fqdn(p, "maf.example.com", AnchorRole::infrastructure));
  p.anchor_role = AnchorRole::infrastructure;
  p.kind = tls::PeerIdentity::Kind::psk;
  EXPECT_FALSE(peer_has_fqdn(p, "maf.example.com", AnchorRole::infrastructure));
}

TEST(CheckAnchorRole, NamesBothRolesInItsRefusal) {
  tls::PeerIdentity p;
  p.kind = tls::PeerIdentity::Kind::certificate;
  p.anchor_role = tls::AnchorRole::device;
  auto st = check_anchor_role(p, tls::AnchorRole::infrastructure);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().detail(), "certificate chains to a device trust anchor (device_trust_anchors), not to an infrastructure trust anchor (trust_anchors)");
  EXPECT_TRUE(check_anchor_role(p, tls::AnchorRole::device));
}

}  // namespace
}  // namespace m2msec::service
