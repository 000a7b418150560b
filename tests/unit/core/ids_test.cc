#include <gtest/gtest.h>

#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"

namespace m2msec {
namespace {

TEST(Fqdn, AcceptsHostNames) {
  for (std::string_view ok : {"mef.example.com", "a.b", "x-1.y-2.z", "MAF.Example.COM",
                              "in-cse.sp1.example.org"}) {
    EXPECT_TRUE(Fqdn::parse(ok)) << ok;
  }
  EXPECT_TRUE(Fqdn::parse(std::string(63, 'a') + ".com"));
}

// TS-0003 clause 10.1.1: "Wildcards shall not be used".
TEST(Fqdn, RejectsBadSyntaxAndWildcards) {
  const std::string long_label = std::string(64, 'a') + ".com";
  std::string too_long;
  while (too_long.size() < 254) too_long += "abcdefghi.";
  too_long += "com";
  for (const std::string& bad : {std::string(""), std::string("localhost"), std::string("*.example.com"),
                                 std::string("a..b"), std::string(".a.b"), std::string("a.b."),
                                 std::string("-a.b"), std::string("a-.b"), std::string("a_b.c"),
                                 std::string("a b.c"), std::string("é.example.com"), long_label,
                                 too_long}) {
    auto f = Fqdn::parse(bad);
    ASSERT_FALSE(f) << bad;
    EXPECT_EQ(f.error().code(), Errc::invalid_fqdn) << bad;
  }
}

TEST(Fqdn, MatchesCaseInsensitively) {
  EXPECT_TRUE(Fqdn::parse("MAF.example.com")->matches(*Fqdn::parse("maf.EXAMPLE.com")));
  EXPECT_FALSE(Fqdn::parse("maf.example.com")->matches(*Fqdn::parse("maf.example.co")));
}

// TS-0003 change 2 clause 10.3.4: KeId = base64encode(RelativeKeId)@MEF_FQDN
TEST(KeyId, ParsesBase64KeId) {
  auto id = KeyId::parse(KeyIdKind::ke, "AAECAwQFBgcICQoLDA0ODw==@mef.example.com");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->relative(), "AAECAwQFBgcICQoLDA0ODw==");
  EXPECT_EQ(id->fqdn().str(), "mef.example.com");
}

// V3.18 clause 10.3.4: KeID = hexBinary(RelativeKeID)@MEF-FQDN
TEST(KeyId, ParsesHexKcIdWhenSelected) {
  auto id = KeyId::parse(KeyIdKind::kc, "000102030405060708090a0b0c0d0e0f@maf.example.com", IdEncoding::hex);
  ASSERT_TRUE(id);
  // The same text is not valid base64 of 16 bytes.
  auto wrong = KeyId::parse(KeyIdKind::kc, "000102030405060708090a0b0c0d0e0f@maf.example.com");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::invalid_identifier);
}

// hexBinary is case-insensitive; base64 is not. Found by fuzz/key_id.cc.
TEST(KeyId, HexRelativeIsCaseInsensitiveBase64IsNot) {
  auto upper = KeyId::parse(KeyIdKind::kc, "000102030405060708090A0B0C0D0E0F@maf.example.com", IdEncoding::hex);
  auto lower = KeyId::parse(KeyIdKind::kc, "000102030405060708090a0b0c0d0e0f@MAF.example.com", IdEncoding::hex);
  ASSERT_TRUE(upper && lower);
  EXPECT_EQ(upper->canonical(), lower->canonical());
  EXPECT_EQ(upper->encoding(), IdEncoding::hex);
  auto b1 = KeyId::parse(KeyIdKind::kc, "AAECAwQFBgcICQoLDA0ODw==@maf.example.com");
  auto b2 = KeyId::parse(KeyIdKind::kc, "aaECAwQFBgcICQoLDA0ODw==@maf.example.com");
  ASSERT_TRUE(b1 && b2);
  EXPECT_FALSE(*b1 == *b2);
}

TEST(KeyId, FormsFromRelative) {
  RelativeId rel{};
  for (std::size_t i = 0; i < rel.size(); ++i) rel[i] = static_cast<std::uint8_t>(i);
  auto fqdn = Fqdn::parse("maf.example.com");
  auto b64 = KeyId::from_relative(KeyIdKind::kc, rel, *fqdn);
  ASSERT_TRUE(b64);
  EXPECT_EQ(b64->str(), "AAECAwQFBgcICQoLDA0ODw==@maf.example.com");
  auto hex = KeyId::from_relative(KeyIdKind::ke, rel, *fqdn, IdEncoding::hex);
  EXPECT_EQ(hex->str(), "000102030405060708090a0b0c0d0e0f@maf.example.com");
  auto km = KeyId::from_relative(KeyIdKind::km, rel, *fqdn);
  ASSERT_FALSE(km);
  EXPECT_EQ(km.error().code(), Errc::invalid_argument);
}

TEST(KeyId, RejectsMalformedExportedIds) {
  const char* bad[] = {
      "AAECAwQFBgcICQoLDA0ODw==",                 // no '@'
      "@mef.example.com",                         // empty relative
      "AAECAwQFBgcICQoLDA0O@mef.example.com",     // 15 bytes
      "AAECAwQFBgcICQoLDA0ODwA=@mef.example.com", // 17 bytes
      "AAECAwQFBgcICQoLDA0ODw@mef.example.com",   // unpadded
  };
  for (const char* b : bad) {
    auto id = KeyId::parse(KeyIdKind::ke, b);
    ASSERT_FALSE(id) << b;
    EXPECT_EQ(id.error().code(), Errc::invalid_identifier) << b;
  }
  auto fq = KeyId::parse(KeyIdKind::ke, "AAECAwQFBgcICQoLDA0ODw==@*.example.com");
  ASSERT_FALSE(fq);
  EXPECT_EQ(fq.error().code(), Errc::invalid_fqdn);
  auto huge = KeyId::parse(KeyIdKind::km, std::string(300, 'a') + "@maf.example.com");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code(), Errc::invalid_identifier);
}

// V3.18 clause 10.6: "The MAF_RELATIVE_KmID is not case sensitive."
TEST(KeyId, KmIdRelativePartIsCaseInsensitive) {
  auto a = KeyId::parse(KeyIdKind::km, "Device-01.x_y@MAF.example.com");
  auto b = KeyId::parse(KeyIdKind::km, "device-01.X_Y@maf.example.com");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->canonical(), "device-01.x_y@maf.example.com");
  EXPECT_EQ(*a, *b);
  // KpsaID relative parts stay case-sensitive.
  auto c = KeyId::parse(KeyIdKind::kpsa, "Dev@issuer.example.com");
  auto d = KeyId::parse(KeyIdKind::kpsa, "dev@issuer.example.com");
  ASSERT_TRUE(c && d);
  EXPECT_FALSE(*c == *d);
}

// V3.18 clauses 10.5 and 10.6: Roman alphabet, numerals, '.', '_' and '-'.
TEST(KeyId, NamedRelativeCharacterSet) {
  for (const char* bad : {"a+b@maf.example.com", "a/b@maf.example.com", "a b@maf.example.com",
                          "é@maf.example.com", "a=@maf.example.com"}) {
    auto id = KeyId::parse(KeyIdKind::kpsa, bad);
    ASSERT_FALSE(id) << bad;
    EXPECT_EQ(id.error().code(), Errc::invalid_identifier);
  }
  EXPECT_TRUE(KeyId::parse(KeyIdKind::kpsa, "A-z_0.9@issuer.example.com"));
}

// TS-0003 8.3.2.3: "The Enrolment Key Identifier (Ke-ID) shall be the
// Bootstrapping Transaction Identifier (B-TID)", and Km is its Ks_NAF, so a
// KmID may be a B-TID too. TS 33.220 4.5.2: B-TID =
// base64encode(RAND)@BSF_servers_domain_name. The relative part below is
// python3 -c 'import base64; print(base64.b64encode(bytes(range(0xf0,0x100))))'
// (16 bytes, so it holds '+', '/' and "==").
TEST(KeyId, AcceptsBTidAsKmIdAndKeId) {
  const std::string b_tid = "8PHy8/T19vf4+fr7/P3+/w==@bsf.operator.example.net";
  auto km = KeyId::parse(KeyIdKind::km, b_tid);
  ASSERT_TRUE(km) << km.error().message();
  EXPECT_TRUE(km->has_b_tid_form());
  EXPECT_EQ(km->fqdn().str(), "bsf.operator.example.net");
  // Base64 carries case: a B-TID KmID is not lowercased like a named one.
  EXPECT_EQ(km->canonical(), b_tid);
  auto other = KeyId::parse(KeyIdKind::km, "8phy8/T19vf4+fr7/P3+/w==@bsf.operator.example.net");
  ASSERT_TRUE(other);
  EXPECT_FALSE(*km == *other);
  // A KeID that is a B-TID is accepted even where exported KeIDs are hex.
  auto ke = KeyId::parse(KeyIdKind::ke, b_tid, IdEncoding::hex);
  ASSERT_TRUE(ke) << ke.error().message();
  EXPECT_TRUE(ke->has_b_tid_form());
  EXPECT_EQ(ke->encoding(), IdEncoding::base64);
  // A named KmID is not in the B-TID form.
  EXPECT_FALSE(KeyId::parse(KeyIdKind::km, "device-01@maf.example.com")->has_b_tid_form());
}

TEST(KeyId, FormsBTidFromRand) {
  std::array<std::uint8_t, kRelativeIdSize> rand{};
  for (std::size_t i = 0; i < rand.size(); ++i) rand[i] = static_cast<std::uint8_t>(0xf0 + i);
  KeyId id = KeyId::b_tid(rand, *Fqdn::parse("bsf.operator.example.net"));
  EXPECT_EQ(id.str(), "8PHy8/T19vf4+fr7/P3+/w==@bsf.operator.example.net");
  EXPECT_EQ(id.kind(), KeyIdKind::ke);
  EXPECT_TRUE(id.has_b_tid_form());
}

// The B-TID form is accepted only for KeIDs and KmIDs, and only exactly:
// 16 bytes of canonical base64 and an FQDN. KcIDs and KpsaIDs stay strict.
TEST(KeyId, BTidFormIsNotALoophole) {
  const char* km_bad[] = {
      "8PHy8/T19vf4+fr7/P3+@bsf.example.net",      // 15 bytes
      "8PHy8/T19vf4+fr7/P3+/wA=@bsf.example.net",  // 17 bytes
      "8PHy8/T19vf4+fr7/P3+/x==@bsf.example.net",  // not canonical (stray bits)
      "8PHy8/T19vf4+fr7/P3+/w==@bsf",               // not an FQDN
      "8PHy8/T19vf4+fr7/P3+/w@bsf.example.net",    // unpadded
  };
  for (const char* b : km_bad) {
    auto id = KeyId::parse(KeyIdKind::km, b);
    EXPECT_FALSE(id) << b;
  }
  auto kpsa = KeyId::parse(KeyIdKind::kpsa, "8PHy8/T19vf4+fr7/P3+/w==@bsf.example.net");
  ASSERT_FALSE(kpsa);
  EXPECT_EQ(kpsa.error().code(), Errc::invalid_identifier);
  auto kc = KeyId::parse(KeyIdKind::kc, "8PHy8/T19vf4+fr7/P3+/w==@maf.example.net", IdEncoding::hex);
  ASSERT_FALSE(kc);
  EXPECT_EQ(kc.error().code(), Errc::invalid_identifier);
}

TEST(KeyId, KindNamesRoundTrip) {
  for (KeyIdKind k : {KeyIdKind::ke, KeyIdKind::kc, KeyIdKind::km, KeyIdKind::kpsa}) {
    EXPECT_EQ(*parse_key_id_kind(key_id_kind_name(k)), k);
  }
  EXPECT_EQ(parse_key_id_kind("kid").error().code(), Errc::invalid_argument);
  EXPECT_EQ(parse_id_encoding("base32").error().code(), Errc::invalid_argument);
}

// V3.18 clause 10.4: type-ID, '-', value of [A-Za-z0-9._@-].
TEST(CredentialId, ParsesTypeAndValue) {
  auto c = CredentialId::parse("1-device_01@factory.example.com");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type_id(), 1u);
  EXPECT_EQ(c->value(), "device_01@factory.example.com");
  auto d = CredentialId::parse("42-a-b");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value(), "a-b");
}

TEST(CredentialId, RejectsMalformed) {
  for (const char* bad : {"", "1", "1-", "-x", "0-x", "01-x", "a-x", "1-x y", "1-x/y",
                          "99999999999-x"}) {
    auto c = CredentialId::parse(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code(), Errc::invalid_identifier) << bad;
  }
}

TEST(EntityId, TellsCseFromAe) {
  EXPECT_EQ(EntityId::parse("/in-cse")->kind(), EntityKind::cse);
  EXPECT_EQ(EntityId::parse("//sp.example.com/in-cse")->kind(), EntityKind::cse);
  EXPECT_EQ(EntityId::parse("/in-cse/Cae1")->kind(), EntityKind::ae);
  EXPECT_EQ(EntityId::parse("//sp.example.com/in-cse/Cae1")->kind(), EntityKind::ae);
  EXPECT_EQ(EntityId::parse("Cae1")->kind(), EntityKind::ae);
}

TEST(EntityId, RejectsMalformed) {
  for (const char* bad : {"", "/", "//", "/a//b", "/a/b/c", "ae1", "/a b", "C/x", "/in-cse/é"}) {
    auto e = EntityId::parse(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code(), Errc::invalid_identifier) << bad;
  }
}

// RFC 4279 clause 5.1: "The PSK identity MUST be first converted to a
// character string, and then encoded to octets using UTF-8." The byte
// sequences below were classified with Python's strict UTF-8 codec
// (bytes.decode("utf-8")), an independent RFC 3629 decoder.
TEST(PskIdentity, AcceptsPrintableUtf8UpToTheLimit) {
  for (const std::string& ok : {std::string("kpm-device-0001"), std::string("dev 1@factory.example.com"),
                                std::string("caf\xc3\xa9"), std::string("\xf0\x9f\x94\x91"),
                                std::string("\xc2\xa0x"), std::string(kMaxPskIdentityLength, 'a')}) {
    auto st = check_psk_identity(ok);
    EXPECT_TRUE(st) << ok << ": " << st.error().message();
  }
}

TEST(PskIdentity, RefusesEmptyOverlongInvalidUtf8AndControls) {
  // OpenSSL 3's PSK_MAX_IDENTITY_LEN is 256 including the NUL.
  EXPECT_EQ(kMaxPskIdentityLength, 255u);
  const std::string cases[] = {
      "",
      std::string(kMaxPskIdentityLength + 1, 'a'),
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // a surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xf8\x88\x80\x80\x80",
      "\x80",              // a lone continuation byte
      "ab\xc3",            // truncated
      "\xe2\x82",          // truncated
      std::string("a\0b", 3),
      "a\tb",
      "line\n",
      "\x1b[31m",          // ESC
      "a\x7f",             // DEL
      "\xc2\x85",          // NEL, a C1 control
  };
  for (const std::string& bad : cases) {
    auto st = check_psk_identity(bad);
    ASSERT_FALSE(st) << testing::PrintToString(bad);
    EXPECT_EQ(st.error().code(), Errc::invalid_identifier);
  }
}

TEST(PskIdentity, ErrorNamesTheReasonNotTheText) {
  auto st = check_psk_identity("secret\x01");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().detail().find("control character at byte 6"), std::string::npos) << st.error().detail();
  EXPECT_EQ(st.error().detail().find("secret"), std::string::npos);
  auto utf = check_psk_identity("ab\xff");
  ASSERT_FALSE(utf);
  EXPECT_NE(utf.error().detail().find("not valid UTF-8 (byte 2)"), std::string::npos) << utf.error().detail();
  auto len = check_psk_identity(std::string(256, 'a'));
  ASSERT_FALSE(len);
  EXPECT_NE(len.error().detail().find("longer than 255 bytes (256)"), std::string::npos) << len.error().detail();
}

TEST(PrintableText, ReplacesInvalidBytesAndControlsOnly) {
  EXPECT_EQ(printable_text("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
  EXPECT_EQ(printable_text("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(printable_text("a\x1b[0m"), "a\xef\xbf\xbd[0m");
  EXPECT_EQ(printable_text("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(check_printable_utf8(printable_text("\xc0\xaf\x01\xed\xa0\x80z")));
}

}  // namespace
}  // namespace m2msec
