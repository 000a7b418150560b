// Suite preference: on an authority with both a PSK lookup and a
// certificate, a client that offers PSK suites gets a PSK session, however
// it orders its own list; a client without a PSK still gets a certificate
// session. The server chooses by its own order
// (SSL_OP_CIPHER_SERVER_PREFERENCE) and lists PSK suites first
// (tls::cipher_list).
#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

// mixed_server is the shape of the MEF, MAF and Entity B listeners: PSK and
// a certificate on one authority, client certificates required on
// certificate suites.
ServerOptions mixed_server(Transport t) {
  ServerOptions o = psk_server_options(t, {{"dev1", 1}});
  o.authorities[0].certificate = cert("mef");
  o.authorities[0].client_trust = trust();
  o.authorities[0].client_auth = ClientAuth::required;
  return o;
}

const char* psk_suite(Transport t) { return t == Transport::tls ? "PSK-AES128-CBC-SHA256" : "PSK-AES128-CCM8"; }
const char* cert_suite(Transport t) {
  return t == Transport::tls ? "ECDHE-ECDSA-AES128-SHA256" : "ECDHE-ECDSA-AES128-CCM8";
}

// both_client offers the PSK "dev1" and the trust anchors (so certificate
// suites too), in the order |ciphers| gives, or the default order if "".
Result<TlsClient> both_client(Transport t, std::uint16_t port, const std::string& ciphers) {
  ClientOptions o;
  o.transport = t;
  o.port = port;
  o.sni = kMef;
  o.psk = ClientPsk{"dev1", key(1)};
  o.trust = trust();
  o.cipher_override = ciphers;
  o.timeout = 3s;
  return TlsClient::connect(std::move(o));
}

std::string transport_test_name(const ::testing::TestParamInfo<Transport>& p) {
  return std::string(transport_name(p.param));
}

class TlsPreference : public ::testing::TestWithParam<Transport> {};

// Before the fix the server listed certificate suites first, and this
// client got an ECDHE-ECDSA session without a client certificate, which
// the authority refused ("peer did not return a certificate").
TEST_P(TlsPreference, ClientOfferingBothGetsPsk) {
  const Transport t = GetParam();
  Harness h(mixed_server(t));
  const std::string cert_first = std::string(cert_suite(t)) + ":" + psk_suite(t);
  std::size_t n = 0;
  for (const std::string& ciphers : {cert_first, std::string()}) {
    auto c = both_client(t, h.port(), ciphers);
    ASSERT_TRUE(c.has_value()) << "client list '" << ciphers << "': " << c.error().message();
    EXPECT_EQ(c->peer().kind, PeerIdentity::Kind::psk);
    EXPECT_EQ(c->peer().cipher, psk_suite(t));
    ASSERT_TRUE(h.wait_sessions(++n));
    EXPECT_EQ(h.session(n - 1).peer.kind, PeerIdentity::Kind::psk);
    EXPECT_EQ(h.session(n - 1).peer.psk_identity, "dev1");
    auto ours = c->export_keying_material(kLabel, 48);
    ASSERT_TRUE(ours.has_value());
    EXPECT_TRUE(*ours == h.session(n - 1).exported);
  }
  EXPECT_TRUE(h.errors().empty());
}

TEST_P(TlsPreference, CertificateClientStillGetsCertificate) {
  const Transport t = GetParam();
  Harness h(mixed_server(t));
  ClientOptions o;
  o.transport = t;
  o.port = h.port();
  o.sni = kMef;
  o.trust = trust();
  o.certificate = cert("ae");
  o.timeout = 3s;
  auto c = TlsClient::connect(std::move(o));
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->peer().kind, PeerIdentity::Kind::certificate);
  EXPECT_EQ(c->peer().cipher, cert_suite(t));
  ASSERT_TRUE(h.wait_sessions(1));
  EXPECT_EQ(h.session(0).peer.kind, PeerIdentity::Kind::certificate);
}

// An authority without a PSK lookup offers no PSK suite: a client offering
// both gets a certificate session (here without a client certificate, so
// the authority asks for none).
// add_certificate_only adds the authority kMef with a certificate and no
// PSK lookup; expect_certificate_session connects to it offering both.
void add_certificate_only(ServerOptions& o) {
  ServerAuthority a;
  a.fqdn = kMef;
  a.certificate = cert("mef");
  o.authorities.push_back(std::move(a));
}

void expect_certificate_session(Transport t, std::uint16_t port) {
  auto c = both_client(t, port, "");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->peer().kind, PeerIdentity::Kind::certificate);
  EXPECT_EQ(c->peer().cipher, cert_suite(t));
}

TEST_P(TlsPreference, CertificateOnlyAuthorityIgnoresPskOffer) {
  const Transport t = GetParam();
  ServerOptions o;
  o.transport = t;
  add_certificate_only(o);
  Harness h(std::move(o));
  expect_certificate_session(t, h.port());
}

// Authorities with different suites on one port: each SNI gets its own
// authority's list (set when SNI picks the authority), whatever the other
// authorities serve. A client offering both reaches the certificate-only
// authority with a certificate suite and the PSK-only one with PSK.
TEST_P(TlsPreference, EachAuthorityServesItsOwnSuites) {
  const Transport t = GetParam();
  ServerOptions o = psk_server_options(t, {{"dev1", 1}}, "psk.example.com");
  add_certificate_only(o);
  Harness h(std::move(o));
  expect_certificate_session(t, h.port());
  ClientOptions po;
  po.transport = t;
  po.port = h.port();
  po.sni = "psk.example.com";
  po.psk = ClientPsk{"dev1", key(1)};
  po.trust = trust();
  po.timeout = 3s;
  auto p = TlsClient::connect(std::move(po));
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->peer().kind, PeerIdentity::Kind::psk);
  EXPECT_EQ(p->peer().cipher, psk_suite(t));
}

INSTANTIATE_TEST_SUITE_P(Transports, TlsPreference, ::testing::Values(Transport::tls, Transport::dtls),
                         transport_test_name);

}  // namespace
}  // namespace m2msec::tls::test
