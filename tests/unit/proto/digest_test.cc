// HTTP Digest with AKAv1-MD5 (RFC 2617, RFC 7616, RFC 3310).
//
// Where the expected values come from:
// - RFC 2617 section 3.5's example (Mufasa / "Circle Of Life"), a known
//   answer published with the RFC;
// - everything else is computed at test time by python3's hashlib.md5 on
//   the same inputs (python_digest below: an independent implementation of
//   RFC 2617 3.2.2.1 / 3.2.3 given the inputs hex-encoded, so a binary
//   password with 0x00 and 0xff and a binary body pass through unchanged).
#include "m2msec/proto/digest.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "m2msec/core/encoding.h"

namespace m2msec::proto::digest {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string hex_of(std::string_view s) {
  return hex_encode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

// python_digest runs python3's hashlib on the inputs (all passed as hex, so
// no shell quoting can alter them) and returns its hex response:
//   HA1 = MD5(username ":" realm ":" password)
//   HA2 = MD5(method ":" uri [":" hex(MD5(body)) if qop == auth-int])
//   KD  = MD5(hex(HA1) ":" nonce [":" nc ":" cnonce ":" qop] ":" hex(HA2))
// The inputs are test data, not anyone's secret.
std::string python_digest(const Bytes& password, const Credentials& c, std::string_view method,
                          std::string_view body) {
  static constexpr char kScript[] =
      "import hashlib,sys\n"
      "u,r,p,m,uri,b,n,nc,cn,q=[bytes.fromhex(x) for x in sys.argv[1:]]\n"
      "H=lambda x: hashlib.md5(x).hexdigest().encode()\n"
      "ha1=H(u+b':'+r+b':'+p)\n"
      "ha2=H(m+b':'+uri+(b':'+H(b) if q==b'auth-int' else b''))\n"
      "mid=(nc+b':'+cn+b':'+q+b':') if q else b''\n"
      "print(H(ha1+b':'+n+b':'+mid+ha2).decode())\n";
  // The script travels as hex too, decoded by python itself.
  std::string cmd = "python3 -c \"exec(bytes.fromhex('" + hex_of(kScript) + "').decode())\"";
  for (const std::string& arg : {hex_of(c.username), hex_of(c.realm), hex_encode(password), hex_of(method),
                                 hex_of(c.uri), hex_of(body), hex_of(c.nonce), hex_of(c.nc), hex_of(c.cnonce),
                                 hex_of(c.qop)}) {
    cmd += " '" + arg + "'";
  }
  cmd += " 2>/dev/null";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[128];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (::pclose(p) != 0) return "python3 failed";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// An RES of 8 octets with 0x00 and 0xff in it, as Milenage's f2 yields.
const Bytes kRes = {0x00, 0xff, 0x3a, 0x00, 0x22, 0x5c, 0x80, 0xff};

// A body with a NUL, a CR LF and a non-ASCII byte in it.
constexpr std::string_view kBody("<req>\0\r\n\xc3\xa9</req>", 16);
static_assert(kBody.size() == sizeof("<req>\0\r\n\xc3\xa9</req>") - 1, "the literal's length, NUL included");

Credentials aka_credentials() {
  Credentials c;
  c.username = "user@ims.mnc001.mcc001.3gppnetwork.org";
  c.realm = "bsf.mnc001.mcc001.pub.3gppnetwork.org";
  c.nonce = "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==";
  c.uri = "/bsf";
  c.algorithm = "AKAv1-MD5";
  c.qop = "auth-int";
  c.nc = "00000001";
  c.cnonce = "0a4f113b";
  c.opaque = "5ccc069c403ebaf9f0171e9517f40e41";
  c.response = std::string(32, '0');
  return c;
}

Credentials mufasa() {
  Credentials c;
  c.username = "Mufasa";
  c.realm = "testrealm@host.com";
  c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  c.uri = "/dir/index.html";
  c.qop = "auth";
  c.nc = "00000001";
  c.cnonce = "0a4f113b";
  c.opaque = "5ccc069c403ebaf9f0171e9517f40e41";
  c.response = "6629fae49393a05397450978507c4ef1";
  return c;
}

Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// RFC 2617 3.5: "Mufasa" / "Circle Of Life", GET /dir/index.html, qop=auth
// gives response="6629fae49393a05397450978507c4ef1".
TEST(Digest, Rfc2617KnownAnswer) {
  const Credentials c = mufasa();
  auto r = compute_response(text_bytes("Circle Of Life"), c, "GET", "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(python_digest(text_bytes("Circle Of Life"), c, "GET", ""), *r);
  EXPECT_TRUE(response_matches(*r, c.response));
}

// RFC 2617 3.5 as it is written on the wire parses to the same values.
TEST(Digest, ParsesRfc2617Example) {
  auto c = parse_credentials(
      "Digest username=\"Mufasa\",\r\n"
      "                 realm=\"testrealm@host.com\"");
  EXPECT_FALSE(c);  // an unfolded CR LF is a control character
  c = parse_credentials(
      "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, "
      "nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(*c, mufasa());
}

// RFC 3310 3.3: RES, as octets, is the password; qop=auth-int covers the
// body. The oracle is python3 hashlib on the same inputs.
TEST(Digest, AuthIntBinaryPasswordAgreesWithPython) {
  const Credentials c = aka_credentials();
  auto r = compute_response(kRes, c, "POST", kBody);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->size(), 32u);
  EXPECT_EQ(*r, python_digest(kRes, c, "POST", kBody));
  // The body, the method and every password octet count.
  EXPECT_NE(*r, *compute_response(kRes, c, "POST", kBody.substr(1)));
  EXPECT_NE(*r, *compute_response(kRes, c, "GET", kBody));
  Bytes other = kRes;
  other[0] ^= 1;
  EXPECT_NE(*r, *compute_response(other, c, "POST", kBody));
  // RES is used raw, not as its hex text.
  const std::string res_hex = hex_encode(kRes);
  EXPECT_NE(*r, *compute_response(text_bytes(res_hex), c, "POST", kBody));
}

// RFC 2617 3.2.3 / RFC 3310 3.5: rspauth is the response with an empty
// method, over the response body, keyed by XRES.
TEST(Digest, RspauthAgreesWithPython) {
  const Credentials c = aka_credentials();
  auto r = compute_rspauth(kRes, c, kBody);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, python_digest(kRes, c, "", kBody));
  EXPECT_EQ(*r, *compute_response(kRes, c, "", kBody));
  EXPECT_NE(*r, *compute_response(kRes, c, "POST", kBody));

  Credentials auth = c;
  auth.qop = "auth";
  auto ra = compute_rspauth(kRes, auth, "ignored for qop=auth");
  ASSERT_TRUE(ra);
  EXPECT_EQ(*ra, python_digest(kRes, auth, "", ""));
}

TEST(Digest, QopAuthAndNoQopAgreeWithPython) {
  Credentials c = aka_credentials();
  c.qop = "auth";
  auto r = compute_response(kRes, c, "GET", kBody);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, python_digest(kRes, c, "GET", ""));  // qop=auth ignores the body
  EXPECT_EQ(*r, *compute_response(kRes, c, "GET", ""));

  // RFC 2069 form: no qop, no nc, no cnonce.
  c.qop.clear();
  c.nc.clear();
  c.cnonce.clear();
  r = compute_response(kRes, c, "GET", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, python_digest(kRes, c, "GET", ""));
}

// RFC 3310 3.4: with auts "the client MUST calculate its credentials using
// an empty password (password of "")".
TEST(Digest, AutsMeansEmptyPassword) {
  Credentials c = aka_credentials();
  const Bytes auts(kAutsSize, 0xa5);
  c.auts = base64_encode(auts);
  auto r = compute_response(kRes, c, "POST", kBody);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, python_digest({}, c, "POST", kBody));
  EXPECT_EQ(*r, *compute_response({}, c, "POST", kBody));
  Credentials without = c;
  without.auts.reset();
  EXPECT_NE(*r, *compute_response(kRes, without, "POST", kBody));
  EXPECT_EQ(*r, *compute_response({}, without, "POST", kBody));
}

TEST(Digest, ComputeRefusesWhatItCannotCompute) {
  Credentials c = aka_credentials();
  c.algorithm = "MD5-sess";
  EXPECT_EQ(compute_response(kRes, c, "POST", kBody).error().code(), Errc::invalid_argument);
  c.algorithm = "AKAv2-MD5";  // RFC 4169: a different password
  EXPECT_EQ(compute_response(kRes, c, "POST", kBody).error().code(), Errc::invalid_argument);
  c.algorithm = "md5";
  EXPECT_TRUE(compute_response(kRes, c, "POST", kBody));
  c.algorithm.clear();
  EXPECT_TRUE(compute_response(kRes, c, "POST", kBody));
  // MD5 and AKAv1-MD5 compute alike; only the password's origin differs.
  EXPECT_EQ(*compute_response(kRes, c, "POST", kBody), *compute_response(kRes, aka_credentials(), "POST", kBody));
  c.qop = "auth-conf";
  EXPECT_EQ(compute_response(kRes, c, "POST", kBody).error().code(), Errc::invalid_argument);
}

TEST(Digest, ResponseMatches) {
  const std::string a = "6629fae49393a05397450978507c4ef1";
  EXPECT_TRUE(response_matches(a, a));
  EXPECT_FALSE(response_matches(a, "6629fae49393a05397450978507c4ef0"));
  EXPECT_FALSE(response_matches(a, "7629fae49393a05397450978507c4ef1"));
  EXPECT_FALSE(response_matches(a, a.substr(0, 31)));
  EXPECT_FALSE(response_matches(a, a + "1"));
  EXPECT_FALSE(response_matches(a, ""));
  EXPECT_FALSE(response_matches("", ""));
}

// ---------------------------------------------------------------------------
// WWW-Authenticate

Challenge aka_challenge() {
  Challenge ch;
  ch.realm = "bsf.mnc001.mcc001.pub.3gppnetwork.org";
  ch.nonce = "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==";
  ch.algorithm = "AKAv1-MD5";
  ch.qop = "auth-int";
  ch.opaque = "5ccc069c403ebaf9f0171e9517f40e41";
  return ch;
}

TEST(Digest, ChallengeFormatAndRoundTrip) {
  Challenge ch = aka_challenge();
  auto v = format_challenge(ch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v,
            "Digest realm=\"bsf.mnc001.mcc001.pub.3gppnetwork.org\", "
            "nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\", algorithm=AKAv1-MD5, qop=\"auth-int\", "
            "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  auto back = parse_challenge(*v);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, ch);

  ch.stale = true;
  ch.opaque.clear();
  v = format_challenge(ch);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->substr(v->size() - 12), ", stale=TRUE");
  EXPECT_EQ(v->find("opaque"), std::string::npos);
  back = parse_challenge(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ch);
}

// RFC 3310 section 4's challenge, unfolded onto one line.
TEST(Digest, ParsesRfc3310Challenge) {
  auto ch = parse_challenge(
      "Digest\trealm=\"RoamingUsers@mobile.biz\",  nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\", "
      "qop=\"auth,auth-int\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=AKAv1-MD5");
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->realm, "RoamingUsers@mobile.biz");
  EXPECT_EQ(ch->nonce, "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==");
  EXPECT_EQ(ch->qop, "auth,auth-int");
  EXPECT_EQ(ch->algorithm, "AKAv1-MD5");
  EXPECT_FALSE(ch->stale);
  auto again = parse_challenge(*format_challenge(*ch));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *ch);
}

TEST(Digest, ChallengeLeniencies) {
  // Scheme and names in any case, whitespace around '=', empty list
  // elements, unknown directives, token or quoted forms.
  auto ch = parse_challenge(
      "  dIgEsT , REALM = \"r\" ,, Nonce=n1, domain=\"/a /b\", userhash=true, stale=\"True\", ");
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->realm, "r");
  EXPECT_EQ(ch->nonce, "n1");
  EXPECT_TRUE(ch->stale);
  EXPECT_TRUE(parse_challenge("Digest realm=r, nonce=n, stale=FALSE"));
}

TEST(Digest, ChallengeRefusals) {
  const auto code = [](std::string_view v) {
    auto r = parse_challenge(v);
    return r ? Errc{} : r.error().code();
  };
  EXPECT_EQ(code("Digest nonce=\"n\""), Errc::malformed_message);                   // no realm
  EXPECT_EQ(code("Digest realm=\"r\""), Errc::malformed_message);                   // no nonce
  EXPECT_EQ(code("Digest realm=\"\", nonce=\"n\""), Errc::malformed_message);       // empty realm
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\", stale=maybe"), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\", qop=\"auth;x\""), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\", qop=\"\""), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\", algorithm=\"AKAv1 MD5\""), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", Realm=\"s\", nonce=\"n\""), Errc::malformed_message);
  EXPECT_EQ(code("Basic realm=\"r\""), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\", Basic realm=\"x\""), Errc::malformed_message);
  EXPECT_EQ(code("Digest realm=\"r\", nonce=\"n\""), Errc{});

  Challenge bad = aka_challenge();
  bad.realm = "a\r\nSet-Cookie: x";
  EXPECT_EQ(format_challenge(bad).error().code(), Errc::invalid_argument);
  bad = aka_challenge();
  bad.algorithm = "AKAv1-MD5, realm=\"evil\"";
  EXPECT_EQ(format_challenge(bad).error().code(), Errc::invalid_argument);
  bad = aka_challenge();
  bad.nonce.clear();
  EXPECT_EQ(format_challenge(bad).error().code(), Errc::invalid_argument);
  bad = aka_challenge();
  bad.opaque = std::string(kMaxDigestHeader, 'o');
  EXPECT_EQ(format_challenge(bad).error().code(), Errc::invalid_argument);
}

// ---------------------------------------------------------------------------
// Authorization

TEST(Digest, CredentialsRoundTrip) {
  Credentials c = aka_credentials();
  c.response = *compute_response(kRes, c, "POST", kBody);
  auto v = format_credentials(c);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v,
            "Digest username=\"user@ims.mnc001.mcc001.3gppnetwork.org\", "
            "realm=\"bsf.mnc001.mcc001.pub.3gppnetwork.org\", "
            "nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\", uri=\"/bsf\", response=\"" +
                c.response +
                "\", algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, cnonce=\"0a4f113b\", "
                "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  auto back = parse_credentials(*v);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, c);

  // With auts (RFC 3310 3.4), quoted.
  c.auts = base64_encode(Bytes(kAutsSize, 0x5c));
  v = format_credentials(c);
  ASSERT_TRUE(v);
  EXPECT_NE(v->find(", auts=\"" + *c.auts + "\""), std::string::npos);
  back = parse_credentials(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c);

  // Without qop (RFC 2069 form) and without opaque.
  c.auts.reset();
  c.qop.clear();
  c.nc.clear();
  c.cnonce.clear();
  c.opaque.clear();
  c.algorithm.clear();
  v = format_credentials(c);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->find("qop"), std::string::npos);
  back = parse_credentials(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c);
}

// RFC 3310 section 4's resynchronisation request, unfolded (its auts is
// 11 octets, not a real AUTS, so it is replaced by one of 14).
TEST(Digest, ParsesRfc3310Credentials) {
  const std::string auts = base64_encode(Bytes(kAutsSize, 0x11));
  auto c = parse_credentials(
      "Digest username=\"jon.dough@mobile.biz\", realm=\"RoamingUsers@mobile.biz\", "
      "nonce=\"CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==\", uri=\"sip:home.mobile.biz\", qop=auth, "
      "nc=00000001, cnonce=\"0a4f113b\", response=\"4429FFE49393C02397450934607C4EF1\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", auts=\"" + auts + "\"");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->username, "jon.dough@mobile.biz");
  EXPECT_EQ(c->uri, "sip:home.mobile.biz");
  EXPECT_EQ(c->response, "4429ffe49393c02397450934607c4ef1");  // stored in lower case
  ASSERT_TRUE(c->auts);
  EXPECT_EQ(*c->auts, auts);
  // The RFC's own 11-octet example is refused.
  EXPECT_FALSE(parse_credentials(
      "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"4429ffe49393c02397450934607c4ef1\", "
      "auts=\"5PYxMuX2NOT2NeQ=\""));
}

TEST(Digest, QuotedStringEscapes) {
  // RFC 7230 3.2.6: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
  auto c = parse_credentials(
      "Digest username=\"a\\\"b\\\\c\\d\", realm=\"r,x=y\", nonce=\"\xc3\xa9t\xc3\xa9\", uri=\"/\", "
      "response=\"6629fae49393a05397450978507c4ef1\"");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->username, "a\"b\\cd");
  EXPECT_EQ(c->realm, "r,x=y");
  EXPECT_EQ(c->nonce, "\xc3\xa9t\xc3\xa9");
  auto v = format_credentials(*c);
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("username=\"a\\\"b\\\\cd\""), std::string::npos) << *v;
  auto back = parse_credentials(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *c);
}

std::string mufasa_with(std::string_view replace, std::string_view with) {
  std::string v =
      "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
      "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
  const std::size_t at = v.find(replace);
  EXPECT_NE(at, std::string::npos) << replace;
  if (at != std::string::npos) v.replace(at, replace.size(), with);
  return v;
}

Errc credentials_error(std::string_view v) {
  auto r = parse_credentials(v);
  return r ? Errc{} : r.error().code();
}

TEST(Digest, CredentialsRefuseMissingDirectives) {
  ASSERT_EQ(credentials_error(mufasa_with("", "")), Errc{});
  for (std::string_view d : {"username=\"Mufasa\", ", "realm=\"testrealm@host.com\", ",
                             "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", ", "uri=\"/dir/index.html\", ",
                             "nc=00000001, ", "cnonce=\"0a4f113b\", ",
                             ", response=\"6629fae49393a05397450978507c4ef1\""}) {
    SCOPED_TRACE(d);
    auto r = parse_credentials(mufasa_with(d, ""));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_message);
  }
  EXPECT_EQ(credentials_error(mufasa_with("username=\"Mufasa\"", "username=\"\"")), Errc::malformed_message);
}

TEST(Digest, CredentialsRefuseDuplicates) {
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=auth, qop=auth")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=auth, QOP=auth")), Errc::malformed_message);
  // Duplicates of an unknown directive too.
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=auth, x=1, X=2")), Errc::malformed_message);
  auto r = parse_credentials(mufasa_with("qop=auth", "qop=auth, Realm=\"other\""));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail().find("duplicate"), std::string::npos);
}

TEST(Digest, CredentialsRefuseBadNcQopAndResponse) {
  for (std::string_view nc : {"nc=0000001", "nc=000000001", "nc=0000000g", "nc=\"\"", "nc=-0000001"}) {
    SCOPED_TRACE(nc);
    EXPECT_EQ(credentials_error(mufasa_with("nc=00000001", nc)), Errc::malformed_message);
  }
  EXPECT_EQ(credentials_error(mufasa_with("nc=00000001", "nc=0000000A")), Errc{});
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=auth-conf")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=\"auth,auth-int\"")), Errc::malformed_message);
  // nc and cnonce without qop (RFC 2617 3.2.2: MUST NOT).
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth, ", "")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("6629fae49393a05397450978507c4ef1", "6629fae49393a05397450978507c4ef")),
            Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("6629fae49393a05397450978507c4ef1", "6629fae49393a05397450978507c4efg")),
            Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "algorithm=MD5-sess, qop=auth")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "algorithm=akav1-md5, qop=auth")), Errc{});
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "auts=\"\", qop=auth")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "auts=\"ERERERERERERERERERE\", qop=auth")),
            Errc::malformed_message);  // no padding: not canonical base64
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "auts=\"ERERERERERERERERERE=\", qop=auth")), Errc{});
}

TEST(Digest, RefusesSyntaxErrors) {
  EXPECT_EQ(credentials_error(mufasa_with("cnonce=\"0a4f113b\"", "cnonce=\"0a4f113b")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"", "opaque=\"5ccc\\")),
            Errc::malformed_message);  // a backslash at the very end
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "=auth")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth,", "qop=auth")), Errc::malformed_message);  // no ','
  EXPECT_EQ(credentials_error(mufasa_with("qop=auth", "qop=auth int")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("Digest ", "Digest,")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("Digest ", "Digestusername=x, ")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("Digest ", "Basic ")), Errc::malformed_message);
  EXPECT_EQ(credentials_error(mufasa_with("Digest ", "Digest Digest ")), Errc::malformed_message);
  EXPECT_EQ(credentials_error("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), Errc::malformed_message);
  EXPECT_EQ(credentials_error("Digest QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), Errc::malformed_message);  // token68
  EXPECT_EQ(credentials_error("Digest"), Errc::malformed_message);
  EXPECT_EQ(credentials_error(""), Errc::malformed_message);
  EXPECT_EQ(credentials_error("   "), Errc::malformed_message);
  EXPECT_EQ(credentials_error(",,,"), Errc::malformed_message);
}

TEST(Digest, RefusesControlCharactersAndBadUtf8) {
  for (std::string_view bad : {std::string_view("\r\n", 2), std::string_view("\0", 1), std::string_view("\x1b[2J"),
                               std::string_view("\x7f"), std::string_view("\xff"), std::string_view("\xc3"),
                               std::string_view("\xed\xa0\x80")}) {
    SCOPED_TRACE(hex_of(bad));
    const std::string in = std::string("Mu") + std::string(bad) + "fasa";
    auto r = parse_credentials(mufasa_with("Mufasa", in));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_message);
    // The error text carries none of the peer's bytes.
    EXPECT_EQ(r.error().message().find("Mu"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find(std::string(bad)), std::string::npos);
  }
  // A control character outside any quoted string, too.
  EXPECT_EQ(credentials_error(mufasa_with(", qop", ",\n qop")), Errc::malformed_message);
  // HTAB is whitespace between directives.
  EXPECT_EQ(credentials_error(mufasa_with(", qop", ",\tqop")), Errc{});
}

TEST(Digest, RefusesOverlongHeader) {
  const std::string base = mufasa_with("", "");
  const std::string pad_to = [&](std::size_t total) {
    return base + ", x=\"" + std::string(total - base.size() - 6, 'a') + "\"";
  }(kMaxDigestHeader);
  ASSERT_EQ(pad_to.size(), kMaxDigestHeader);
  EXPECT_EQ(credentials_error(pad_to), Errc{});
  EXPECT_EQ(credentials_error(pad_to + " "), Errc::malformed_message);
  EXPECT_EQ(credentials_error(std::string(1 << 20, 'a')), Errc::malformed_message);
  auto r = parse_credentials(std::string(kMaxDigestHeader + 1, ' '));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail().find("longer"), std::string::npos);
}

TEST(Digest, IgnoresUnknownDirectives) {
  auto c = parse_credentials(mufasa_with("qop=auth", "userhash=false, username*=UTF-8''J%C3%A4s, qop=auth"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(*c, mufasa());
}

TEST(Digest, FormatCredentialsRefusesWhatParseRefuses) {
  Credentials c = mufasa();
  c.username = "x\"\r\nX-Injected: 1";
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  c = mufasa();
  c.nc = "1";
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  c = mufasa();
  c.qop = "auth, nc=00000002";
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  c = mufasa();
  c.response = "6629FAE49393A05397450978507C4EF1";
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  c = mufasa();
  c.auts = "not base64";
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  c = mufasa();
  c.uri = std::string(kMaxDigestHeader, '/');
  EXPECT_EQ(format_credentials(c).error().code(), Errc::invalid_argument);
  EXPECT_TRUE(format_credentials(mufasa()));
}

// ---------------------------------------------------------------------------
// Authentication-Info

TEST(Digest, AuthenticationInfoFormatAndRoundTrip) {
  const Credentials c = aka_credentials();
  auto rspauth = compute_rspauth(kRes, c, kBody);
  ASSERT_TRUE(rspauth);
  auto v = format_authentication_info(*rspauth, c);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v, "qop=auth-int, rspauth=\"" + *rspauth + "\", cnonce=\"0a4f113b\", nc=00000001");
  auto a = parse_authentication_info(*v);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->qop, "auth-int");
  EXPECT_EQ(a->rspauth, *rspauth);
  EXPECT_EQ(a->cnonce, "0a4f113b");
  EXPECT_EQ(a->nc, "00000001");
  EXPECT_TRUE(response_matches(*rspauth, a->rspauth));

  Credentials no_qop = c;
  no_qop.qop.clear();
  no_qop.nc.clear();
  no_qop.cnonce.clear();
  v = format_authentication_info(*rspauth, no_qop);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "rspauth=\"" + *rspauth + "\"");
  EXPECT_TRUE(parse_authentication_info(*v));

  // RFC 3310 section 4's example, and a nextnonce.
  a = parse_authentication_info(
      "qop=auth-int, rspauth=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", nc=00000001, "
      "nextnonce=\"abc\"");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->nextnonce, "abc");
}

TEST(Digest, AuthenticationInfoRefusals) {
  const auto code = [](std::string_view v) {
    auto r = parse_authentication_info(v);
    return r ? Errc{} : r.error().code();
  };
  EXPECT_EQ(code(""), Errc::malformed_message);
  EXPECT_EQ(code("qop=auth-int, cnonce=\"0a4f113b\", nc=00000001"), Errc::malformed_message);  // no rspauth
  EXPECT_EQ(code("qop=auth-int, rspauth=\"6629fae49393a05397450978507c4ef1\", nc=00000001"),
            Errc::malformed_message);  // no cnonce
  EXPECT_EQ(code("qop=auth-int, rspauth=\"6629fae49393a05397450978507c4ef1\", cnonce=\"x\", nc=1"),
            Errc::malformed_message);
  EXPECT_EQ(code("rspauth=\"6629fae4\""), Errc::malformed_message);
  EXPECT_EQ(code("rspauth=\"6629fae49393a05397450978507c4ef1\", rspauth=\"6629fae49393a05397450978507c4ef1\""),
            Errc::malformed_message);
  EXPECT_EQ(code("Digest rspauth=\"6629fae49393a05397450978507c4ef1\""), Errc::malformed_message);
  EXPECT_EQ(code("rspauth=\"6629fae49393a05397450978507c4ef1\""), Errc{});

  EXPECT_EQ(format_authentication_info("6629fae4", aka_credentials()).error().code(), Errc::invalid_argument);
  EXPECT_EQ(format_authentication_info("6629fae49393a05397450978507c4ef1\"", aka_credentials()).error().code(),
            Errc::invalid_argument);
}

// TS 24.109 A.3-1: the initial GET names the IMPI with nonce="" and
// response="" and nothing else of an answer; one of the two empty alone,
// or the initial form with a qop or auts, is refused.
TEST(Digest, InitialRequestForm) {
  const std::string a3 =
      "Digest username=\"user1_private@home1.net\", realm=\"bsf.home1.net\", nonce=\"\", uri=\"/\", "
      "response=\"\"";
  auto c = parse_credentials(a3);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->is_initial());
  EXPECT_EQ(c->username, "user1_private@home1.net");
  auto again = format_credentials(*c);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*parse_credentials(*again), *c);
  for (const std::string& bad :
       {std::string("Digest username=\"u@x.org\", realm=\"r.org\", nonce=\"\", uri=\"/\", "
                    "response=\"6629fae49393a05397450978507c4ef1\""),
        std::string("Digest username=\"u@x.org\", realm=\"r.org\", nonce=\"abc\", uri=\"/\", response=\"\""),
        std::string("Digest username=\"u@x.org\", realm=\"r.org\", nonce=\"\", uri=\"/\", response=\"\", "
                    "qop=auth-int, nc=00000001, cnonce=\"x\""),
        std::string("Digest username=\"u@x.org\", realm=\"r.org\", uri=\"/\", response=\"\"")}) {
    auto r = parse_credentials(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), Errc::malformed_message);
    }
  }
}

}  // namespace
}  // namespace m2msec::proto::digest
