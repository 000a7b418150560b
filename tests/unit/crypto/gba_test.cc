// The GBA key derivation (TS 33.220 Annex B) and the Ua security protocol
// identifier (Annex H) m2msec fixes for oneM2M.
//
// The independent check: the test builds the Annex B input string S field
// by field itself (FC, then each parameter followed by its two-octet
// length), writes it to a file and has the openssl command line compute
// HMAC-SHA-256 over it with Ks as the key ("openssl dgst -sha256 -mac HMAC
// -macopt hexkey:..."); derive_ks_naf must give the same 32 bytes.
#include "m2msec/crypto/gba.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "m2msec/core/encoding.h"

namespace m2msec::crypto {
namespace {

using Octets = std::vector<std::uint8_t>;

Octets octets(std::string_view s) { return Octets(s.begin(), s.end()); }

// annex_b_s builds S = FC || P0 || L0 || ... || Pn || Ln by hand.
Octets annex_b_s(std::uint8_t fc, const std::vector<Octets>& params) {
  Octets s{fc};
  for (const Octets& p : params) {
    s.insert(s.end(), p.begin(), p.end());
    s.push_back(static_cast<std::uint8_t>(p.size() / 256));
    s.push_back(static_cast<std::uint8_t>(p.size() % 256));
  }
  return s;
}

// openssl_hmac runs the openssl CLI over |data| with |key| (test data).
std::string openssl_hmac(const Octets& key, const Octets& data) {
  char path[] = "/tmp/m2msec-gba-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  (void)!::write(fd, data.data(), data.size());
  ::close(fd);
  const std::string cmd = "openssl dgst -sha256 -mac HMAC -macopt hexkey:" + hex_encode(key) + " -r " + path;
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p != nullptr) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  ::unlink(path);
  return out.substr(0, out.find(' '));  // "-r": "<hex> *<file>"
}

Octets counting(std::size_t n, std::uint8_t from) {
  Octets o(n);
  for (std::size_t i = 0; i < n; ++i) o[i] = static_cast<std::uint8_t>(from + i);
  return o;
}

// TS 33.220 B.3: Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id), FC 0x01,
// NAF_Id = FQDN of the NAF || Ua security protocol identifier.
TEST(Gba, KsNafAgreesWithOpensslHmacOverAnnexBString) {
  const Octets ks = counting(32, 0x40);  // CK || IK
  const Octets rand = counting(16, 0xa0);
  for (UaBinding binding : {UaBinding::tls, UaBinding::dtls}) {
    const std::string impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org";
    Octets naf = octets("maf.example.com");
    // Annex H, shared-key TLS: 0x01 0x00 0x01 yy zz, yy zz the suite.
    const Octets ua = binding == UaBinding::tls ? Octets{0x01, 0x00, 0x01, 0x00, 0xae} : Octets{0x01, 0x00, 0x01, 0xc0, 0xa8};
    naf.insert(naf.end(), ua.begin(), ua.end());
    const Octets s = annex_b_s(0x01, {octets("gba-me"), rand, octets(impi), naf});

    const std::vector<std::uint8_t> ours_naf_id = naf_id("MAF.example.com", binding);
    EXPECT_EQ(ours_naf_id, naf);
    auto ours = derive_ks_naf(ks, rand, impi, ours_naf_id);
    ASSERT_TRUE(ours) << ours.error().message();
    const std::string theirs = openssl_hmac(ks, s);
    ASSERT_EQ(theirs.size(), 64u) << "openssl printed: " << theirs;
    EXPECT_EQ(hex_encode(ours->view()), theirs);
  }
}

// A long parameter's length takes both octets (L = 0x01 0x2c for 300).
TEST(Gba, KdfLengthsAreTwoOctetsBigEndian) {
  const Octets key = counting(32, 0);
  const Octets p0 = counting(300, 7), p1;
  auto ours = gba_kdf(key, 0x01, {p0, p1});
  ASSERT_TRUE(ours);
  EXPECT_EQ(hex_encode(ours->view()), openssl_hmac(key, annex_b_s(0x01, {p0, p1})));
}

TEST(Gba, RefusesWrongSizes) {
  const Octets ks = counting(32, 0), rand = counting(16, 0), naf = naf_id("maf.example.com", UaBinding::tls);
  EXPECT_EQ(derive_ks_naf(counting(31, 0), rand, "impi@x.org", naf).error().code(), Errc::invalid_length);
  EXPECT_EQ(derive_ks_naf(ks, counting(15, 0), "impi@x.org", naf).error().code(), Errc::invalid_length);
  const Octets huge(65536, 1);
  EXPECT_EQ(gba_kdf(ks, 0x01, {huge}).error().code(), Errc::invalid_length);
}

TEST(Gba, UaIdentifierNamesTheSuiteOfTheTransport) {
  EXPECT_EQ(hex_encode(ua_security_protocol_id(UaBinding::tls)), "01000100ae");
  EXPECT_EQ(hex_encode(ua_security_protocol_id(UaBinding::dtls)), "010001c0a8");
}

}  // namespace
}  // namespace m2msec::crypto
