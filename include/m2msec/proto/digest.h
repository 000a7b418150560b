// m2msec/proto/digest.h: HTTP Digest access authentication (RFC 2617,
// RFC 7616) with the AKAv1-MD5 algorithm of RFC 3310, as 3GPP GBA uses it
// on the Ub interface (TS 33.220 clause 4.5.2, TS 24.109 clause 5).
//
// The three header values:
//   WWW-Authenticate:      Digest realm="..", nonce="..", algorithm=AKAv1-MD5, qop="auth-int", opaque=".."
//   Authorization:         Digest username="..", realm="..", nonce="..", uri="..", response="..", ...
//   Authentication-Info:   qop=auth-int, rspauth="..", cnonce="..", nc=00000001
//
// RFC 3310 section 3.3: "The resulting AKA RES parameter is treated as a
// "password" when calculating the response directive of RFC 2617." The
// password is RES as raw octets (not its hex), on the server XRES (section
// 3.5, also for rspauth).
//
// Parsing (RFC 7235 section 2.1, RFC 7230 sections 3.2.6 and 7): one
// challenge or credentials per header value; a case-insensitive scheme
// "Digest", then comma-separated "name=token" or "name=quoted-string"
// directives with optional whitespace and empty list elements. Directive
// names are case-insensitive; a duplicate is refused, an unknown one is
// ignored. Values are taken in either form (RFC 7235 2.1), must be
// well-formed UTF-8 without control characters once unescaped, and the
// whole value is at most kMaxDigestHeader bytes. Every failure is
// Errc::malformed_message whose detail names a directive or a byte offset,
// never the peer's bytes. Nothing here throws.
//
// The formatters check the same rules as the parsers and refuse
// (Errc::invalid_argument) what the parser would refuse, so a formatted
// value always parses back to the same struct and never carries CR, LF or a
// stray quote into a header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/crypto/milenage.h"

namespace m2msec::proto::digest {

// kMaxDigestHeader bounds a header value the parsers accept and the
// formatters produce.
inline constexpr std::size_t kMaxDigestHeader = 4096;

// kAkaV1Md5 is RFC 3310 section 3.1's algorithm token.
inline constexpr std::string_view kAkaV1Md5 = "AKAv1-MD5";

// kAutsSize is the length of AKA's AUTS (TS 33.102 6.3.3: SQN^AK* || MAC-S).
inline constexpr std::size_t kAutsSize = crypto::kAutsSize;

// Challenge is a WWW-Authenticate (or Proxy-Authenticate) Digest challenge.
// realm and nonce are required. qop is the qop-options list as sent, e.g.
// "auth-int" or "auth,auth-int"; empty means absent (RFC 2069 mode).
// algorithm empty means absent, which RFC 2617 reads as "MD5".
struct Challenge {
  std::string realm;
  std::string nonce;
  std::string algorithm;
  std::string qop;
  std::string opaque;
  bool stale = false;

  bool operator==(const Challenge&) const = default;
};

// format_challenge returns the value of a WWW-Authenticate header:
//   Digest realm="..", nonce="..", algorithm=AKAv1-MD5, qop="auth-int", opaque=".."
// with algorithm, qop and opaque left out when empty and stale=TRUE only
// when set. Fails with Errc::invalid_argument if a field breaks the rules
// parse_challenge applies (empty realm or nonce, a control character, an
// algorithm that is not a token, a qop that is not a token list, or more
// than kMaxDigestHeader bytes in all).
Result<std::string> format_challenge(const Challenge& c);

// parse_challenge parses a WWW-Authenticate header value holding exactly
// one Digest challenge. Requires realm and nonce; stale must be "true" or
// "false" (any case); qop must be a list of tokens. Unknown directives
// (domain, charset, userhash, ...) are ignored. Fails with
// Errc::malformed_message.
Result<Challenge> parse_challenge(std::string_view header_value);

// Credentials is an Authorization Digest response. username, realm, nonce,
// uri and response are required, except in the initial request of a GBA
// bootstrap (TS 24.109 4.2: nonce="" and response="" together, and no qop,
// nc, cnonce or auts; see is_initial); response is 32 lowercase hex digits. qop
// is "auth", "auth-int" or empty (absent); with a qop, nc (8 hex digits)
// and cnonce are required, without one they must be empty (RFC 2617 3.2.2).
// algorithm is empty (absent, meaning MD5), "MD5" or "AKAv1-MD5" (any
// case). auts is RFC 3310 section 3.4's directive: the base64 of AUTS
// (kAutsSize octets), sent on a synchronisation failure.
struct Credentials {
  std::string username;
  std::string realm;
  std::string nonce;
  std::string uri;
  std::string response;
  std::string algorithm;
  std::string qop;
  std::string nc;
  std::string cnonce;
  std::string opaque;
  std::optional<std::string> auts;

  // is_initial: the first request of a bootstrap (TS 24.109 4.2, A.3-1),
  // which names the user with an empty nonce and response.
  bool is_initial() const { return nonce.empty() && response.empty(); }

  bool operator==(const Credentials&) const = default;
};

// format_credentials returns the value of an Authorization header. Fails
// with Errc::invalid_argument if |c| breaks a rule of parse_credentials.
Result<std::string> format_credentials(const Credentials& c);

// parse_credentials parses an Authorization header value holding one set of
// Digest credentials and checks the rules given at Credentials. A response
// in upper-case hex is stored in lower case. Fails with
// Errc::malformed_message.
Result<Credentials> parse_credentials(std::string_view header_value);

// compute_response returns RFC 2617 section 3.2.2.1's request-digest for
// |c| (its username, realm, nonce, uri, algorithm, qop, nc, cnonce), the
// request |method| and, for qop=auth-int, the entity |body|, in lowercase
// hex:
//   HA1 = MD5(username ":" realm ":" password)
//   HA2 = MD5(method ":" uri ":" hex(MD5(body)))     qop=auth-int
//         MD5(method ":" uri)                         qop=auth or none
//   response = hex(MD5(hex(HA1) ":" nonce ":" nc ":" cnonce ":" qop ":" hex(HA2)))
//            = hex(MD5(hex(HA1) ":" nonce ":" hex(HA2)))   without qop (RFC 2069)
// For AKAv1-MD5 |password| is RES (XRES on the server) as raw octets.
//
// RFC 3310 section 3.4: when |c.auts| is set "the client MUST calculate its
// credentials using an empty password (password of "")"; this function then
// ignores |password| and uses "". Such a response proves nothing about the
// client: a server must treat it only as a resynchronisation request (the
// AUTS carries its own MAC-S).
//
// Intermediate values that depend on the password are wiped. Fails with
// Errc::invalid_argument for an algorithm other than MD5/AKAv1-MD5 or a qop
// other than auth/auth-int/none, or if OpenSSL offers no MD5.
Result<std::string> compute_response(std::span<const std::uint8_t> password, const Credentials& c,
                                     std::string_view method, std::string_view body);

// compute_rspauth returns the rspauth of Authentication-Info (RFC 2617
// section 3.2.3): compute_response with an empty method, i.e. for
// qop=auth-int HA2 = MD5(":" uri ":" hex(MD5(body))) over the response body.
// RFC 3310 section 3.5: the server's password is XRES. Fails as
// compute_response.
Result<std::string> compute_rspauth(std::span<const std::uint8_t> password, const Credentials& c,
                                    std::string_view body);

// AuthenticationInfo is an Authentication-Info header (RFC 2617 3.2.3).
// rspauth (32 lowercase hex digits) is required; with a qop, nc and cnonce
// are too. nextnonce is optional (empty when absent).
struct AuthenticationInfo {
  std::string qop;
  std::string rspauth;
  std::string cnonce;
  std::string nc;
  std::string nextnonce;

  bool operator==(const AuthenticationInfo&) const = default;
};

// format_authentication_info returns the value of an Authentication-Info
// header answering |c|:
//   qop=auth-int, rspauth="..", cnonce="..", nc=00000001
// (just rspauth=".." when |c| has no qop). Fails with Errc::invalid_argument
// if |rspauth| is not 32 lowercase hex digits or |c|'s qop, nc or cnonce
// break the rules of Credentials.
Result<std::string> format_authentication_info(std::string_view rspauth, const Credentials& c);

// parse_authentication_info parses an Authentication-Info header value
// (no scheme: the directives only). Fails with Errc::malformed_message.
Result<AuthenticationInfo> parse_authentication_info(std::string_view header_value);

// response_matches compares an expected response (or rspauth) with the one
// received in constant time with respect to their contents (CRYPTO_memcmp).
// False if the lengths differ or |expected_hex| is empty.
bool response_matches(std::string_view expected_hex, std::string_view got);

}  // namespace m2msec::proto::digest
