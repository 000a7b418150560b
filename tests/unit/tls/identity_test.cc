// Identity extraction and checks (clauses 8.1.2, 10.1.1); error texts.
#include <openssl/pem.h>

#include <cstdio>

#include "tls_harness.h"

namespace m2msec::tls::test {
namespace {

UniquePtr<X509> read_cert(const std::string& name) {
  UniquePtr<BIO> bio(BIO_new_file(pki_file(name + ".pem").c_str(), "r"));
  return UniquePtr<X509>(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

TEST(TlsIdentity, NamesAndChecks) {
  auto ae = read_cert("ae");
  auto cse = read_cert("cse");
  auto mef = read_cert("mef");
  ASSERT_TRUE(ae && cse && mef);
  std::vector<std::string> uris, dns;
  certificate_names(ae.get(), uris, dns);
  EXPECT_EQ(uris, std::vector<std::string>{"//sp.example.com/CAE01"});
  EXPECT_TRUE(dns.empty());
  EXPECT_TRUE(check_peer_name(ae.get(), {ExpectedName::Kind::uri, "//sp.example.com/CAE01"}));
  EXPECT_EQ(check_peer_name(ae.get(), {ExpectedName::Kind::uri, "//sp.example.com/CAE02"}).error().code(),
            Errc::peer_name_mismatch);
  EXPECT_TRUE(check_peer_name(cse.get(), {ExpectedName::Kind::fqdn, "CSE1.sp.example.com"}));  // DNS is case-blind
  EXPECT_EQ(check_peer_name(cse.get(), {ExpectedName::Kind::fqdn, "sp.example.com"}).error().code(),
            Errc::peer_name_mismatch);
  EXPECT_EQ(check_peer_name(mef.get(), {ExpectedName::Kind::fqdn, "*.example.com"}).error().code(),
            Errc::invalid_fqdn);
  // The CN is never used as a name.
  EXPECT_EQ(check_peer_name(mef.get(), {ExpectedName::Kind::fqdn, "mef.local"}).error().code(),
            Errc::peer_name_mismatch);
}

TEST(TlsIdentity, Profile) {
  for (const char* good : {"ae", "cse", "mef", "maf", "expired"}) {
    EXPECT_TRUE(check_certificate_profile(read_cert(good).get())) << good;
  }
  for (const char* bad : {"nodigsig", "wildcard"}) {
    auto s = check_certificate_profile(read_cert(bad).get());
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code(), Errc::certificate_rejected);
  }
  EXPECT_FALSE(check_certificate_profile(nullptr));
}

TEST(TlsIdentity, ErrorNamesAndMessages) {
  for (Errc e : {Errc::tls_handshake_failed, Errc::unknown_psk_identity, Errc::certificate_rejected,
                 Errc::peer_name_mismatch, Errc::invalid_credentials, Errc::connect_failed, Errc::timeout,
                 Errc::connection_closed}) {
    EXPECT_NE(error_name(e), "unknown");
    EXPECT_NE(error_message(e), "unknown error");
  }
  EXPECT_EQ(error_name(Errc::unknown_psk_identity), "unknown_psk_identity");
}

TEST(TlsIdentity, OptionValidation) {
  ServerOptions o = psk_server_options(Transport::tls, {{"dev1", 1}});
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);  // no on_session
  o.on_session = [](std::shared_ptr<Session>) {};
  o.mtu = 100;
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);
  o.mtu = kDefaultMtu;
  o.ciphers.psk_suites = "NOT-A-SUITE";
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);
  o.ciphers = {};
  o.authorities[0].psk_lookup = nullptr;
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);  // no credentials
  o.authorities.clear();
  EXPECT_EQ(TlsServer::create(o).error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace m2msec::tls::test
