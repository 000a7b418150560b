// digest.cc: HTTP Digest with AKAv1-MD5 (RFC 2617, RFC 7616, RFC 3310);
// see m2msec/proto/digest.h.
#include "m2msec/proto/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <vector>

#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/secret.h"

namespace m2msec::proto::digest {
namespace {

// ---------------------------------------------------------------------------
// Lexical rules

// RFC 7230 3.2.6:
//   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
bool is_tchar(unsigned char ch) {
  if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  switch (ch) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char ch : s) {
    if (!is_tchar(ch)) return false;
  }
  return true;
}

// RFC 7230 3.2.3: OWS = *( SP / HTAB )
bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

bool is_hex_digit(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

bool is_hex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char ch : s) {
    if (!is_hex_digit(ch)) return false;
  }
  return true;
}

// RFC 2617 3.2.2: request-digest = <"> 32LHEX <">; LHEX is lowercase.
bool is_lhex32(std::string_view s) {
  if (s.size() != 32) return false;
  for (char ch : s) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

char ascii_lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = ascii_lower(ch);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// is_token_list accepts RFC 7230 7's 1#token with OWS around each element,
// e.g. qop-options' "auth,auth-int" (RFC 2617 3.2.1).
bool is_token_list(std::string_view s) {
  bool any = false;
  while (true) {
    const std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && is_ows(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_ows(item.back())) item.remove_suffix(1);
    if (!item.empty()) {
      if (!is_token(item)) return false;
      any = true;
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return any;
}

// ---------------------------------------------------------------------------
// Parsing the directive list

// Directive is one auth-param; |name| is lowercased (RFC 7235 2.1:
// "parameter names are matched case-insensitively"), |value| unescaped.
struct Directive {
  std::string name;
  std::string value;
};
using Directives = std::vector<Directive>;

// kMaxDirectives bounds the list (and the duplicate search over it).
constexpr std::size_t kMaxDirectives = 32;

std::unexpected<Error> malformed(std::string detail) { return fail(Errc::malformed_message, std::move(detail)); }

std::unexpected<Error> malformed_at(std::string_view what, std::size_t offset) {
  return malformed(std::string(what) + " at offset " + std::to_string(offset));
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }
  std::size_t pos() const { return pos_; }
  char peek() const { return s_[pos_]; }
  void advance() { ++pos_; }

  // skip_ows skips SP and HTAB; returns whether it skipped any.
  bool skip_ows() {
    const std::size_t start = pos_;
    while (!done() && is_ows(s_[pos_])) ++pos_;
    return pos_ != start;
  }

  std::string_view token() {
    const std::size_t start = pos_;
    while (!done() && is_tchar(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // RFC 7230 3.2.6:
  //   quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
  //   qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
  //   quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
  // Control characters were refused before lexing; here only the quote
  // structure is checked. Expects pos() at the opening quote.
  Result<std::string> quoted_string() {
    const std::size_t start = pos_;
    ++pos_;
    std::string out;
    while (!done()) {
      const char ch = s_[pos_++];
      if (ch == '"') return out;
      if (ch == '\\') {
        if (done()) break;
        out.push_back(s_[pos_++]);
        continue;
      }
      out.push_back(ch);
    }
    return malformed_at("unterminated quoted string", start);
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// check_bytes refuses control characters other than HTAB anywhere in the
// value (CR, LF, NUL, DEL ...): no field of these headers may hold one.
Status check_bytes(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return malformed_at("control character", i);
  }
  return {};
}

// parse_directives reads
//   [ "Digest" 1*SP ] #auth-param
//   auth-param = token BWS "=" BWS ( token / quoted-string )      (RFC 7235 2.1)
// with RFC 7230 7's empty list elements allowed. |with_scheme| is false
// for Authentication-Info, which has no scheme.
Result<Directives> parse_directives(std::string_view s, bool with_scheme) {
  if (s.empty()) return malformed("empty header value");
  if (s.size() > kMaxDigestHeader) return malformed("header value longer than " + std::to_string(kMaxDigestHeader) + " bytes");
  if (auto ok = check_bytes(s); !ok) return std::unexpected(ok.error());

  Lexer lex(s);
  lex.skip_ows();
  if (with_scheme) {
    // RFC 7235 2.1: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ];
    // auth-scheme is case-insensitive.
    if (!iequals(lex.token(), "Digest")) return malformed("authentication scheme is not Digest");
    if (!lex.done() && !lex.skip_ows()) return malformed_at("expected whitespace after Digest", lex.pos());
  }

  Directives out;
  while (true) {
    lex.skip_ows();
    if (lex.done()) break;
    if (lex.peek() == ',') {  // an empty list element
      lex.advance();
      continue;
    }
    const std::size_t name_at = lex.pos();
    const std::string_view name = lex.token();
    if (name.empty()) return malformed_at("expected a directive name", name_at);
    lex.skip_ows();
    if (lex.done() || lex.peek() != '=') return malformed_at("expected '=' after a directive name", lex.pos());
    lex.advance();
    lex.skip_ows();
    Directive d{lowercase(name), {}};
    if (!lex.done() && lex.peek() == '"') {
      auto q = lex.quoted_string();
      if (!q) return std::unexpected(q.error());
      d.value = std::move(*q);
    } else {
      const std::size_t value_at = lex.pos();
      const std::string_view v = lex.token();
      if (v.empty()) return malformed_at("expected a token or quoted string", value_at);
      d.value = std::string(v);
    }
    lex.skip_ows();
    if (!lex.done() && lex.peek() != ',') return malformed_at("expected ','", lex.pos());
    if (auto ok = check_printable_utf8(d.value); !ok) {
      return malformed("value of directive '" + printable(d.name, 32) + "' is not printable UTF-8");
    }
    for (const Directive& seen : out) {
      if (seen.name == d.name) return malformed("duplicate directive '" + printable(d.name, 32) + "'");
    }
    if (out.size() == kMaxDirectives) return malformed("more than " + std::to_string(kMaxDirectives) + " directives");
    out.push_back(std::move(d));
  }
  return out;
}

const std::string* find(const Directives& ds, std::string_view name) {
  for (const Directive& d : ds) {
    if (d.name == name) return &d.value;
  }
  return nullptr;
}

// no_empty refuses |names| when present with an empty value ("qop=\"\""),
// which would otherwise read as absent.
Status no_empty(const Directives& ds, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    const std::string* v = find(ds, name);
    if (v != nullptr && v->empty()) return malformed("directive '" + std::string(name) + "' is empty");
  }
  return {};
}

std::string get(const Directives& ds, std::string_view name) {
  const std::string* v = find(ds, name);
  return v == nullptr ? std::string() : *v;
}

// ---------------------------------------------------------------------------
// The rules each message obeys; shared by parser (Errc::malformed_message)
// and formatter (Errc::invalid_argument), so what one writes the other reads.

Status check_text(Errc code, std::string_view field, std::string_view v, bool required) {
  if (required && v.empty()) return fail(code, "missing directive '" + std::string(field) + "'");
  if (!check_printable_utf8(v)) return fail(code, "'" + std::string(field) + "' is not printable UTF-8");
  return {};
}

// RFC 2617 3.2.2: nc-value = 8LHEX (either case is accepted: the value is
// hashed as sent).
Status check_qop_fields(Errc code, std::string_view qop, std::string_view nc, std::string_view cnonce) {
  if (qop.empty()) {
    // RFC 2617 3.2.2: cnonce and nc "MUST NOT be specified if the server did
    // not send a qop directive".
    if (!nc.empty() || !cnonce.empty()) return fail(code, "nc or cnonce without qop");
    return {};
  }
  if (qop != "auth" && qop != "auth-int") return fail(code, "qop is neither auth nor auth-int");
  if (!is_hex(nc, 8)) return fail(code, "nc is not 8 hex digits");
  return check_text(code, "cnonce", cnonce, true);
}

Status check_challenge(Errc code, const Challenge& c) {
  if (auto ok = check_text(code, "realm", c.realm, true); !ok) return ok;
  if (auto ok = check_text(code, "nonce", c.nonce, true); !ok) return ok;
  if (auto ok = check_text(code, "opaque", c.opaque, false); !ok) return ok;
  if (!c.algorithm.empty() && !is_token(c.algorithm)) return fail(code, "algorithm is not a token");
  if (!c.qop.empty() && !is_token_list(c.qop)) return fail(code, "qop is not a list of tokens");
  return {};
}

bool supported_algorithm(std::string_view a) { return a.empty() || iequals(a, "MD5") || iequals(a, kAkaV1Md5); }

Status check_credentials(Errc code, const Credentials& c) {
  if (auto ok = check_text(code, "username", c.username, true); !ok) return ok;
  if (auto ok = check_text(code, "realm", c.realm, true); !ok) return ok;
  if (c.is_initial()) {
    // TS 24.109 4.2 / A.3-1: the first request names the IMPI with an
    // empty nonce and response, and nothing else of a Digest answer.
    if (!c.qop.empty() || !c.nc.empty() || !c.cnonce.empty() || c.auts) {
      return fail(code, "an initial request (empty nonce and response) carries no qop, nc, cnonce or auts");
    }
    if (!supported_algorithm(c.algorithm)) return fail(code, "algorithm is neither MD5 nor AKAv1-MD5");
    if (auto ok = check_text(code, "opaque", c.opaque, false); !ok) return ok;
    return check_text(code, "uri", c.uri, true);
  }
  if (auto ok = check_text(code, "nonce", c.nonce, true); !ok) return ok;
  if (auto ok = check_text(code, "uri", c.uri, true); !ok) return ok;
  if (c.response.empty()) return fail(code, "missing directive 'response'");
  if (!is_lhex32(c.response)) return fail(code, "response is not 32 lowercase hex digits");
  if (!supported_algorithm(c.algorithm)) return fail(code, "algorithm is neither MD5 nor AKAv1-MD5");
  if (auto ok = check_qop_fields(code, c.qop, c.nc, c.cnonce); !ok) return ok;
  if (auto ok = check_text(code, "opaque", c.opaque, false); !ok) return ok;
  if (c.auts) {
    // RFC 3310 3.4: auts-value = <base64 encoding of AUTS>
    auto auts = base64_decode(*c.auts);
    if (!auts || auts->size() != kAutsSize) return fail(code, "auts is not the base64 of 14 octets");
  }
  return {};
}

Status check_authentication_info(Errc code, const AuthenticationInfo& a) {
  if (a.rspauth.empty()) return fail(code, "missing directive 'rspauth'");
  if (!is_lhex32(a.rspauth)) return fail(code, "rspauth is not 32 lowercase hex digits");
  if (auto ok = check_qop_fields(code, a.qop, a.nc, a.cnonce); !ok) return ok;
  return check_text(code, "nextnonce", a.nextnonce, false);
}

// ---------------------------------------------------------------------------
// Formatting

// append_quoted writes |v| as a quoted-string, escaping '"' and '\' (RFC 7230
// 3.2.6). The caller has checked |v| holds no control character.
void append_quoted(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('"');
}

void append_param(std::string& out, std::string_view name, std::string_view v, bool quote) {
  if (!out.empty() && out.back() != ' ') out += ", ";
  out += name;
  out.push_back('=');
  if (quote) {
    append_quoted(out, v);
  } else {
    out += v;
  }
}

Result<std::string> bounded(std::string out) {
  if (out.size() > kMaxDigestHeader) {
    return fail(Errc::invalid_argument, "header value longer than " + std::to_string(kMaxDigestHeader) + " bytes");
  }
  return out;
}

// ---------------------------------------------------------------------------
// MD5 through OpenSSL's EVP

struct MdDeleter {
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

constexpr std::size_t kMd5Size = 16;
constexpr std::size_t kMd5HexSize = 2 * kMd5Size;

// md5 is fetched once per process; null if no provider offers MD5 (FIPS).
const EVP_MD* md5() {
  static const std::unique_ptr<EVP_MD, MdDeleter> md(EVP_MD_fetch(nullptr, "MD5", nullptr));
  return md.get();
}

// Md5 hashes a sequence of parts. EVP_MD_CTX_free cleanses the state.
class Md5 {
 public:
  Status init() {
    ctx_.reset(EVP_MD_CTX_new());
    if (md5() == nullptr || !ctx_ || EVP_DigestInit_ex2(ctx_.get(), md5(), nullptr) != 1) {
      return fail(Errc::invalid_argument, "OpenSSL MD5 unavailable");
    }
    return {};
  }
  void update(std::string_view s) { ok_ &= EVP_DigestUpdate(ctx_.get(), s.data(), s.size()) == 1; }
  void update(std::span<const std::uint8_t> b) { ok_ &= EVP_DigestUpdate(ctx_.get(), b.data(), b.size()) == 1; }

  // final_hex writes the digest as 32 lowercase hex digits to |out_hex|
  // and wipes the binary digest.
  Status final_hex(std::span<std::uint8_t, kMd5HexSize> out_hex) {
    std::array<std::uint8_t, kMd5Size> d{};
    unsigned int len = 0;
    const bool ok = ok_ && EVP_DigestFinal_ex(ctx_.get(), d.data(), &len) == 1 && len == kMd5Size;
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < kMd5Size; ++i) {
      out_hex[2 * i] = static_cast<std::uint8_t>(kHex[d[i] >> 4]);
      out_hex[2 * i + 1] = static_cast<std::uint8_t>(kHex[d[i] & 0xf]);
    }
    OPENSSL_cleanse(d.data(), d.size());
    if (!ok) return fail(Errc::invalid_argument, "MD5 failed");
    return {};
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx_;
  bool ok_ = true;
};

std::string_view as_text(std::span<const std::uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// request_digest implements RFC 2617 3.2.2.1 (qop auth, auth-int) and
// 3.2.2 (no qop, RFC 2069 compatibility) for algorithm MD5, which RFC 3310
// 3.1 names AKAv1-MD5 when the password is AKA's RES:
//   A1 = unq(username-value) ":" unq(realm-value) ":" passwd
//   A2 = Method ":" digest-uri-value                      qop auth or none
//   A2 = Method ":" digest-uri-value ":" H(entity-body)    qop auth-int
//   request-digest = <"> < KD ( H(A1), unq(nonce-value) ":" nc-value ":"
//                    unq(cnonce-value) ":" unq(qop-value) ":" H(A2) ) <">
//   request-digest = <"> < KD ( H(A1), unq(nonce-value) ":" H(A2) ) > <">   (no qop)
Result<std::string> request_digest(std::span<const std::uint8_t> password, const Credentials& c,
                                   std::string_view method, std::string_view body) {
  if (!supported_algorithm(c.algorithm)) return fail(Errc::invalid_argument, "algorithm is neither MD5 nor AKAv1-MD5");
  const bool auth_int = c.qop == "auth-int";
  if (!c.qop.empty() && c.qop != "auth" && !auth_int) {
    return fail(Errc::invalid_argument, "qop is neither auth nor auth-int");
  }
  // RFC 3310 3.4: with auts "the client MUST calculate its credentials
  // using an empty password (password of "")".
  if (c.auts) password = {};

  // H(A1) in hex depends on the password: it lives in wiping memory.
  SecretBytes ha1(kMd5HexSize);
  {
    Md5 h;
    if (auto ok = h.init(); !ok) return std::unexpected(ok.error());
    h.update(c.username);
    h.update(":");
    h.update(c.realm);
    h.update(":");
    h.update(password);
    if (auto ok = h.final_hex(std::span<std::uint8_t, kMd5HexSize>(ha1.data(), kMd5HexSize)); !ok) {
      return std::unexpected(ok.error());
    }
  }

  std::array<std::uint8_t, kMd5HexSize> body_hex{};
  if (auth_int) {
    Md5 h;
    if (auto ok = h.init(); !ok) return std::unexpected(ok.error());
    h.update(body);
    if (auto ok = h.final_hex(body_hex); !ok) return std::unexpected(ok.error());
  }

  std::array<std::uint8_t, kMd5HexSize> ha2{};
  {
    Md5 h;
    if (auto ok = h.init(); !ok) return std::unexpected(ok.error());
    h.update(method);
    h.update(":");
    h.update(c.uri);
    if (auth_int) {
      h.update(":");
      h.update(body_hex);
    }
    if (auto ok = h.final_hex(ha2); !ok) return std::unexpected(ok.error());
  }

  std::array<std::uint8_t, kMd5HexSize> response{};
  {
    Md5 h;
    if (auto ok = h.init(); !ok) return std::unexpected(ok.error());
    h.update(ha1.view());
    h.update(":");
    h.update(c.nonce);
    h.update(":");
    if (!c.qop.empty()) {
      h.update(c.nc);
      h.update(":");
      h.update(c.cnonce);
      h.update(":");
      h.update(c.qop);
      h.update(":");
    }
    h.update(ha2);
    if (auto ok = h.final_hex(response); !ok) return std::unexpected(ok.error());
  }
  return std::string(as_text(response));
}

}  // namespace

// ---------------------------------------------------------------------------
// WWW-Authenticate

Result<std::string> format_challenge(const Challenge& c) {
  if (auto ok = check_challenge(Errc::invalid_argument, c); !ok) return std::unexpected(ok.error());
  std::string out = "Digest ";
  append_param(out, "realm", c.realm, true);
  append_param(out, "nonce", c.nonce, true);
  // RFC 7616 3.3: "a sender MUST NOT generate the quoted string syntax
  // values for the following parameters: stale and algorithm"; qop-options
  // is quoted (RFC 2617 3.2.1).
  if (!c.algorithm.empty()) append_param(out, "algorithm", c.algorithm, false);
  if (!c.qop.empty()) append_param(out, "qop", c.qop, true);
  if (!c.opaque.empty()) append_param(out, "opaque", c.opaque, true);
  if (c.stale) append_param(out, "stale", "TRUE", false);
  return bounded(std::move(out));
}

Result<Challenge> parse_challenge(std::string_view header_value) {
  auto ds = parse_directives(header_value, /*with_scheme=*/true);
  if (!ds) return std::unexpected(ds.error());
  if (auto ok = no_empty(*ds, {"realm", "nonce", "algorithm", "qop", "stale"}); !ok) return std::unexpected(ok.error());
  Challenge c;
  c.realm = get(*ds, "realm");
  c.nonce = get(*ds, "nonce");
  c.algorithm = get(*ds, "algorithm");
  c.qop = get(*ds, "qop");
  c.opaque = get(*ds, "opaque");
  // RFC 2617 3.2.1: stale = "stale" "=" ( "true" | "false" ), case-insensitive.
  if (const std::string* stale = find(*ds, "stale")) {
    if (iequals(*stale, "true")) {
      c.stale = true;
    } else if (!iequals(*stale, "false")) {
      return malformed("stale is neither true nor false");
    }
  }
  if (auto ok = check_challenge(Errc::malformed_message, c); !ok) return std::unexpected(ok.error());
  return c;
}

// ---------------------------------------------------------------------------
// Authorization

Result<std::string> format_credentials(const Credentials& c) {
  if (auto ok = check_credentials(Errc::invalid_argument, c); !ok) return std::unexpected(ok.error());
  // RFC 7616 3.4: username, realm, nonce, uri, response, cnonce and opaque
  // are quoted; algorithm, qop and nc are not.
  std::string out = "Digest ";
  append_param(out, "username", c.username, true);
  append_param(out, "realm", c.realm, true);
  append_param(out, "nonce", c.nonce, true);
  append_param(out, "uri", c.uri, true);
  append_param(out, "response", c.response, true);
  if (!c.algorithm.empty()) append_param(out, "algorithm", c.algorithm, false);
  if (!c.qop.empty()) {
    append_param(out, "qop", c.qop, false);
    append_param(out, "nc", c.nc, false);
    append_param(out, "cnonce", c.cnonce, true);
  }
  if (!c.opaque.empty()) append_param(out, "opaque", c.opaque, true);
  // RFC 3310 3.4: auts-param = LDQUOT auts-value RDQUOT
  if (c.auts) append_param(out, "auts", *c.auts, true);
  return bounded(std::move(out));
}

Result<Credentials> parse_credentials(std::string_view header_value) {
  auto ds = parse_directives(header_value, /*with_scheme=*/true);
  if (!ds) return std::unexpected(ds.error());
  if (auto ok = no_empty(*ds, {"username", "realm", "uri", "algorithm", "qop", "nc", "cnonce"}); !ok) {
    return std::unexpected(ok.error());
  }
  // nonce="" and response="" together are TS 24.109's initial request;
  // one of them empty alone is not.
  const std::string* nonce = find(*ds, "nonce");
  const std::string* response = find(*ds, "response");
  const bool initial = nonce != nullptr && response != nullptr && nonce->empty() && response->empty();
  if (!initial) {
    if (auto ok = no_empty(*ds, {"nonce", "response"}); !ok) return std::unexpected(ok.error());
  }
  Credentials c;
  c.username = get(*ds, "username");
  c.realm = get(*ds, "realm");
  c.nonce = get(*ds, "nonce");
  c.uri = get(*ds, "uri");
  c.response = lowercase(get(*ds, "response"));
  c.algorithm = get(*ds, "algorithm");
  c.qop = get(*ds, "qop");
  c.nc = get(*ds, "nc");
  c.cnonce = get(*ds, "cnonce");
  c.opaque = get(*ds, "opaque");
  if (const std::string* auts = find(*ds, "auts")) c.auts = *auts;
  if (auto ok = check_credentials(Errc::malformed_message, c); !ok) return std::unexpected(ok.error());
  return c;
}

// ---------------------------------------------------------------------------
// response and rspauth

Result<std::string> compute_response(std::span<const std::uint8_t> password, const Credentials& c,
                                     std::string_view method, std::string_view body) {
  return request_digest(password, c, method, body);
}

// RFC 2617 3.2.3: "The "response-auth" value is ... calculated as for the
// "request-digest" ... except that if "qop=auth" or is not specified ...
// A2 is  A2 = ":" digest-uri-value  and if "qop=auth-int", then A2 is
//        A2 = ":" digest-uri-value ":" H(entity-body)"
Result<std::string> compute_rspauth(std::span<const std::uint8_t> password, const Credentials& c,
                                    std::string_view body) {
  return request_digest(password, c, "", body);
}

// ---------------------------------------------------------------------------
// Authentication-Info

Result<std::string> format_authentication_info(std::string_view rspauth, const Credentials& c) {
  const AuthenticationInfo a{c.qop, std::string(rspauth), c.cnonce, c.nc, {}};
  if (auto ok = check_authentication_info(Errc::invalid_argument, a); !ok) return std::unexpected(ok.error());
  std::string out;
  if (!a.qop.empty()) append_param(out, "qop", a.qop, false);
  append_param(out, "rspauth", a.rspauth, true);
  if (!a.qop.empty()) {
    append_param(out, "cnonce", a.cnonce, true);
    append_param(out, "nc", a.nc, false);
  }
  return bounded(std::move(out));
}

Result<AuthenticationInfo> parse_authentication_info(std::string_view header_value) {
  auto ds = parse_directives(header_value, /*with_scheme=*/false);
  if (!ds) return std::unexpected(ds.error());
  if (auto ok = no_empty(*ds, {"qop", "rspauth", "cnonce", "nc"}); !ok) return std::unexpected(ok.error());
  AuthenticationInfo a;
  a.qop = get(*ds, "qop");
  a.rspauth = lowercase(get(*ds, "rspauth"));
  a.cnonce = get(*ds, "cnonce");
  a.nc = get(*ds, "nc");
  a.nextnonce = get(*ds, "nextnonce");
  if (auto ok = check_authentication_info(Errc::malformed_message, a); !ok) return std::unexpected(ok.error());
  return a;
}

bool response_matches(std::string_view expected_hex, std::string_view got) {
  if (expected_hex.empty() || expected_hex.size() != got.size()) return false;
  return CRYPTO_memcmp(expected_hex.data(), got.data(), expected_hex.size()) == 0;
}

}  // namespace m2msec::proto::digest
