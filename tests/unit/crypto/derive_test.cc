#include <gtest/gtest.h>

#include "m2msec/core/encoding.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/crypto/hmac.h"
#include "m2msec/crypto/nfkc.h"

namespace m2msec::crypto {
namespace {

std::vector<std::uint8_t> key32(std::uint8_t fill) { return std::vector<std::uint8_t>(32, fill); }

// RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?").
TEST(Hmac, Rfc4231Case2) {
  auto mac = hmac_sha256(as_bytes("Jefe"), {as_bytes("what do ya "), as_bytes("want for nothing?")});
  ASSERT_TRUE(mac);
  EXPECT_EQ(hex_encode(mac->view()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hmac, EmptyKeyIsAllowed) {
  // python3 -c "import hmac,hashlib;print(hmac.new(b'',b'',hashlib.sha256).hexdigest())"
  auto mac = hmac_sha256({}, {});
  ASSERT_TRUE(mac);
  EXPECT_EQ(hex_encode(mac->view()), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// Clause 10.3.1: relative ID = 16 most significant bytes (first), key = 32
// least significant bytes (last).
TEST(Split, TakesIdFromFrontAndKeyFromBack) {
  std::vector<std::uint8_t> ex(48);
  for (std::size_t i = 0; i < ex.size(); ++i) ex[i] = static_cast<std::uint8_t>(i);
  auto parts = split_exported(ex);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->relative_id[0], 0);
  EXPECT_EQ(parts->relative_id[15], 15);
  ASSERT_EQ(parts->key.size(), 32u);
  EXPECT_EQ(parts->key.data()[0], 16);
  EXPECT_EQ(parts->key.data()[31], 47);
}

TEST(Split, RejectsWrongLength) {
  for (std::size_t n : {0u, 32u, 47u, 49u, 64u}) {
    auto parts = split_exported(std::vector<std::uint8_t>(n));
    ASSERT_FALSE(parts) << n;
    EXPECT_EQ(parts.error().code(), Errc::invalid_length);
  }
}

TEST(Derive, KeysMustBe32Bytes) {
  const std::vector<std::uint8_t> short_key(31), long_key(33);
  for (const auto* k : {&short_key, &long_key}) {
    EXPECT_EQ(derive_km(*k, "maf.example.com").error().code(), Errc::invalid_length);
    EXPECT_EQ(derive_kpsa(*k, "/in-cse").error().code(), Errc::invalid_length);
    EXPECT_EQ(derive_usage_constrained(*k, 1, "a.b").error().code(), Errc::invalid_length);
    EXPECT_EQ(derive_e2e_master(*k, "a").error().code(), Errc::invalid_length);
    EXPECT_EQ(expand_e2e(*k).error().code(), Errc::invalid_length);
  }
}

TEST(Derive, InvalidUtf8IdIsRejected) {
  const auto ke = key32(1);
  for (std::string_view bad : {std::string_view("\xff"), std::string_view("a\xc0\xaf"),  // overlong '/'
                               std::string_view("\xed\xa0\x80"),                          // surrogate
                               std::string_view("\xf4\x90\x80\x80"),                      // > U+10FFFF
                               std::string_view("caf\xc3")}) {                            // truncated
    EXPECT_EQ(nfkc(bad).error().code(), Errc::invalid_utf8);
    EXPECT_EQ(derive_km(ke, bad).error().code(), Errc::invalid_utf8);
    EXPECT_EQ(derive_kpsa(ke, bad).error().code(), Errc::invalid_utf8);
    EXPECT_EQ(derive_usage_constrained(ke, 1, bad).error().code(), Errc::invalid_utf8);
    EXPECT_EQ(derive_e2e_master(ke, bad).error().code(), Errc::invalid_utf8);
  }
}

// NFKC is applied: the full-width and ASCII spellings give the same Km.
TEST(Derive, NfkcEquivalentIdsGiveTheSameKey) {
  const auto ke = key32(7);
  auto a = derive_km(ke, "maf.example.com");
  auto b = derive_km(ke, "\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x86.example.com");  // ｍａｆ
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(*a == *b);
  auto c = derive_km(ke, "mag.example.com");
  EXPECT_FALSE(*a == *c);
}

// Clause 10.3.2 with the MAF-ID formed by maf_id_for_km: a mixed-case
// MAF-FQDN gives the Km of the lowercase one, as the MEF derives it.
// Expected value, made with python3:
//   hmac.new(bytes(range(32)), b"oneM2M Enrolment Key to Master Credential derivation"
//            + b"maf.example.com", hashlib.sha256).hexdigest()
// (with b"MAF.Example.COM" instead it would be d03e1cf31cc0048f...).
TEST(Derive, KmMafIdIsTheLowercaseFqdn) {
  std::vector<std::uint8_t> ke(32);
  for (std::size_t i = 0; i < ke.size(); ++i) ke[i] = static_cast<std::uint8_t>(i);
  const std::string want = "3055bf32dd9c95586aaffa2ae2e165dfeffd0803566e16bdd343171457da8a5e";
  EXPECT_EQ(maf_id_for_km("MAF.Example.COM"), "maf.example.com");
  for (std::string_view fqdn : {"maf.example.com", "MAF.Example.COM", "Maf.EXAMPLE.com"}) {
    auto km = derive_km(ke, maf_id_for_km(fqdn));
    ASSERT_TRUE(km) << fqdn;
    EXPECT_EQ(hex_encode(km->view()), want) << fqdn;
  }
  auto raw = derive_km(ke, "MAF.Example.COM");  // derive_km itself does not fold case
  ASSERT_TRUE(raw);
  EXPECT_EQ(hex_encode(raw->view()), "d03e1cf31cc0048fa2a2c3e328cbaffa85ed104e00e840aeb51fe5cfedf5736f");
  // Only ASCII letters are folded; other bytes (here UTF-8 of U+00C4) pass through.
  EXPECT_EQ(maf_id_for_km("\xc3\x84-MAF.example.com"), "\xc3\x84-maf.example.com");
}

TEST(Derive, DifferentLabelsGiveDifferentKeys) {
  const auto ke = key32(3);
  EXPECT_FALSE(*derive_km(ke, "x.y") == *derive_kpsa(ke, "x.y"));
  EXPECT_FALSE(*derive_km(ke, "x.y") == *derive_usage_constrained(ke, 1, "x.y"));
  EXPECT_FALSE(*derive_kpsa(ke, "x.y") == *derive_usage_constrained(ke, 1, "x.y"));
}

TEST(Derive, SuidRange) {
  const auto ke = key32(2);
  EXPECT_EQ(derive_usage_constrained(ke, 0, "a.b").error().code(), Errc::invalid_argument);
  EXPECT_EQ(derive_usage_constrained(ke, 1000, "a.b").error().code(), Errc::invalid_argument);
  EXPECT_TRUE(derive_usage_constrained(ke, 999, "a.b"));
}

}  // namespace
}  // namespace m2msec::crypto
