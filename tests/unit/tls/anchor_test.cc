// Issue 11 item 3 (TS-0003 8.1.2, 10.1): trust anchors are known by the
// SHA-256 fingerprint of their certificate, never by their CN, and a
// listener's two anchor sets (infrastructure, device) are told apart by
// that fingerprint: PeerIdentity::anchor_role records which set ended the
// verified chain. The expected fingerprints are computed independently by
// "openssl x509 -noout -fingerprint -sha256".
#include <cstdio>
#include <fstream>

#include "m2msec/tls/credentials.h"
#include "m2msec/tls/identity.h"
#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

// openssl_fingerprint runs the openssl CLI on |pem| and returns
// "sha256:<lowercase hex>" from its "sha256 Fingerprint=AB:CD:..." line.
std::string openssl_fingerprint(const std::string& pem) {
  const std::string cmd = "openssl x509 -noout -fingerprint -sha256 -in '" + pem + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  char line[512] = {0};
  const bool got = std::fgets(line, sizeof line, p) != nullptr;
  ::pclose(p);
  if (!got) return {};
  std::string text(line);
  const auto eq = text.find('=');
  if (eq == std::string::npos) return {};
  std::string out = "sha256:";
  for (char c : text.substr(eq + 1)) {
    if (c == ':' || c == '\n') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// concat writes the PEM files |parts| one after another into |out|.
void concat(const std::string& out, std::initializer_list<std::string> parts) {
  std::ofstream o(out);
  for (const auto& p : parts) o << std::ifstream(p).rdbuf();
}

TEST(TlsAnchor, FingerprintIsSha256OfTheDerCertificate) {
  auto fps = read_certificate_fingerprints(pki_file("ca.pem"));
  ASSERT_TRUE(fps) << fps.error().message();
  ASSERT_EQ(fps->size(), 1u);
  const std::string want = openssl_fingerprint(pki_file("ca.pem"));
  ASSERT_EQ(want.size(), 7u + 64u) << want;
  EXPECT_EQ(fps->front(), want);
  EXPECT_TRUE(is_certificate_fingerprint(fps->front()));
  EXPECT_NE(fps->front(), openssl_fingerprint(pki_file("rogue.pem")));
}

TEST(TlsAnchor, FingerprintFormIsStrict) {
  const std::string hex(64, 'a');
  EXPECT_TRUE(is_certificate_fingerprint("sha256:" + hex));
  EXPECT_FALSE(is_certificate_fingerprint("sha256:" + std::string(64, 'A')));  // stored form is lower case
  EXPECT_FALSE(is_certificate_fingerprint("sha256:" + hex.substr(1)));
  EXPECT_FALSE(is_certificate_fingerprint("sha256:" + hex + "0"));
  EXPECT_FALSE(is_certificate_fingerprint("sha1:" + hex));
  EXPECT_FALSE(is_certificate_fingerprint("sha256:" + std::string(63, 'a') + "g"));
  EXPECT_FALSE(is_certificate_fingerprint("ca test CA"));  // a CN
  EXPECT_FALSE(is_certificate_fingerprint(""));
}

TEST(TlsAnchor, SetsRememberTheRoleOfEachAnchor) {
  auto sets = load_role_trust_anchors(pki_file("ca.pem"), pki_file("rogue.pem"));
  ASSERT_TRUE(sets) << sets.error().message();
  EXPECT_EQ((*sets)->role_of(openssl_fingerprint(pki_file("ca.pem"))), AnchorRole::infrastructure);
  EXPECT_EQ((*sets)->role_of(openssl_fingerprint(pki_file("rogue.pem"))), AnchorRole::device);
  EXPECT_EQ((*sets)->role_of(openssl_fingerprint(pki_file("mef.pem"))), AnchorRole::none);
  EXPECT_EQ((*sets)->role_of("ca test CA"), AnchorRole::none);  // a CN names nothing
  auto device_only = load_role_trust_anchors("", pki_file("rogue.pem"));
  ASSERT_TRUE(device_only);
  EXPECT_EQ((*device_only)->role_of(openssl_fingerprint(pki_file("ca.pem"))), AnchorRole::none);
  EXPECT_FALSE(load_role_trust_anchors("", ""));
}

TEST(TlsAnchor, ACaInBothSetsIsRefused) {
  const std::string both = pki() + "/both-anchors.pem";
  concat(both, {pki_file("rogue.pem"), pki_file("ca.pem")});
  for (const auto& [infra, device] : std::vector<std::pair<std::string, std::string>>{
           {pki_file("ca.pem"), pki_file("ca.pem")}, {pki_file("ca.pem"), both}, {both, pki_file("rogue.pem")}}) {
    auto sets = load_role_trust_anchors(infra, device);
    ASSERT_FALSE(sets) << infra << " / " << device;
    EXPECT_EQ(sets.error().code(), Errc::invalid_credentials);
    EXPECT_NE(sets.error().detail().find("device_trust_anchors"), std::string::npos) << sets.error().detail();
  }
  // Several certificates in one file are counted, for --cert-ca.
  auto fps = read_certificate_fingerprints(both);
  ASSERT_TRUE(fps);
  EXPECT_EQ(fps->size(), 2u);
}

// A listener with infrastructure anchor ca.pem and device anchor
// rogue.pem: the AE certificate (issued by ca) is infrastructure, the
// "untrusted" one (issued by rogue) device; both verify.
TEST(TlsAnchor, HandshakeRecordsWhichSetEndedTheChain) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  o.authorities[0].certificate = cert("mef", false);
  o.authorities[0].client_auth = ClientAuth::required;
  auto sets = load_role_trust_anchors(pki_file("ca.pem"), pki_file("rogue.pem"));
  ASSERT_TRUE(sets);
  o.authorities[0].client_trust = *sets;
  Harness h(std::move(o));
  for (const char* leaf : {"ae", "untrusted"}) {
    ClientOptions co;
    co.transport = Transport::tls;
    co.port = h.port();
    co.sni = kMef;
    co.trust = trust("ca");
    co.certificate = cert(leaf, false);
    co.timeout = 3s;
    auto c = TlsClient::connect(std::move(co));
    ASSERT_TRUE(c.has_value()) << leaf << ": " << c.error().message();
    // The client's view of the server: verified, but the client's anchors
    // have no roles to report.
    EXPECT_EQ(c->peer().trust_anchor, openssl_fingerprint(pki_file("ca.pem")));
    EXPECT_EQ(c->peer().anchor_role, AnchorRole::none);
  }
  ASSERT_TRUE(h.wait_sessions(2));
  const auto infra = h.session(0).peer;
  EXPECT_EQ(infra.kind, PeerIdentity::Kind::certificate);
  EXPECT_EQ(infra.trust_anchor, openssl_fingerprint(pki_file("ca.pem")));
  EXPECT_EQ(infra.trust_anchor_cn, "ca test CA");
  EXPECT_EQ(infra.anchor_role, AnchorRole::infrastructure);
  const auto device = h.session(1).peer;
  EXPECT_EQ(device.trust_anchor, openssl_fingerprint(pki_file("rogue.pem")));
  EXPECT_EQ(device.trust_anchor_cn, "rogue test CA");
  EXPECT_EQ(device.anchor_role, AnchorRole::device);
}

}  // namespace
}  // namespace m2msec::tls::test
