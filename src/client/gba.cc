#include "m2msec/client/gba.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "m2msec/core/encoding.h"
#include "m2msec/core/endpoint.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/printable.h"
#include "m2msec/crypto/gba.h"
#include "m2msec/crypto/milenage.h"
#include "m2msec/proto/digest.h"
#include "m2msec/proto/http_client.h"
#include "m2msec/proto/messages.h"

namespace m2msec::client {
namespace {

namespace digest = proto::digest;


std::string header_of(const proto::PlainHttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(), [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); })) {
      return v;
    }
  }
  return {};
}

// element returns the text of the one <name> element of the BSF's
// BootstrappingInfo (TS 24.109 A.3-5), which holds no markup of its own.
Result<std::string> element(const std::string& xml, const std::string& name) {
  const std::string open = "<" + name + ">", close = "</" + name + ">";
  const std::size_t b = xml.find(open);
  const std::size_t e = b == std::string::npos ? b : xml.find(close, b);
  if (b == std::string::npos || e == std::string::npos || xml.find(open, b + 1) != std::string::npos) {
    return fail(Errc::malformed_message, "BootstrappingInfo needs exactly one <" + name + ">");
  }
  std::string text = xml.substr(b + open.size(), e - b - open.size());
  if (text.find('<') != std::string::npos || text.find('&') != std::string::npos) {
    return fail(Errc::malformed_message, "<" + name + "> holds markup");
  }
  return text;
}

// parse_xsd_datetime reads "YYYY-MM-DDThh:mm:ssZ".
Result<std::int64_t> parse_xsd_datetime(const std::string& s) {
  std::tm tm{};
  char z = 0;
  if (s.size() != 20 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z') {
    return fail(Errc::malformed_message, "<lifetime> is not YYYY-MM-DDThh:mm:ssZ");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

proto::Request ub_request(const std::string& authorization) {
  auto p = std::make_shared<proto::PlainHttp>();
  p->method = "GET";
  p->authorization = authorization;
  proto::Request r;
  r.op = proto::Operation::retrieve;
  r.to = "/";
  r.plain = std::move(p);
  return r;
}

// offers_auth_int is true if the challenge's qop list (RFC 2617: a quoted
// comma-separated list of tokens) holds exactly the token auth-int.
bool offers_auth_int(std::string_view qop) {
  while (!qop.empty()) {
    const std::size_t comma = qop.find(',');
    std::string_view token = qop.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token == "auth-int") return true;
    if (comma == std::string_view::npos) break;
    qop.remove_prefix(comma + 1);
  }
  return false;
}

Error refused(const proto::PlainHttpResponse& r) {
  std::string detail = "BSF answered HTTP " + std::to_string(r.status);
  if (!r.body.empty()) detail += ": " + printable(r.body.substr(0, r.body.find('\n')), 200);
  return Error(Errc::request_refused, detail);
}

}  // namespace

std::string gba_psk_suite(tls::Transport transport) {
  // The TS-0003 10.2.2 suite of the transport, which the Ua identifier
  // names (crypto::ua_security_protocol_id: 0x00AE, 0xC0A8).
  return std::string(transport == tls::Transport::dtls ? tls::kDtlsPskSuite : tls::kTlsPskSuite);
}

DeviceState gba_device_state(const GbaBootstrap& b, const std::string& mef_fqdn, const std::string& entity_id,
                             const std::string& maf_fqdn, const std::string& maf_address, std::uint64_t sqn_ms) {
  DeviceState st;
  st.enrolee_id = entity_id;
  st.mef_fqdn = mef_fqdn;
  st.ke_id = b.b_tid;
  st.expiry = b.expires_at;
  st.target_kind = maf_fqdn.empty() ? "gba" : "maf";
  st.target = maf_fqdn;
  st.maf_address = maf_address;
  st.key_id = b.b_tid;
  st.key_lifetime = b.expires_at;
  st.impi = b.impi;
  st.gba_rand = hex_encode(b.rand);
  st.sqn_ms = sqn_ms;
  // No enrolment response tells a GBA device the SP's domain; it takes the
  // MEF's parent domain ("mef.sp.example.com" -> "sp.example.com"), from
  // which m2msec associate derives Entity B's FQDN unless told
  // (--cse-fqdn).
  if (const std::size_t dot = mef_fqdn.find('.'); dot != std::string::npos) st.sp_domain = mef_fqdn.substr(dot + 1);
  return st;
}

Result<SecretBytes> gba_ks_naf(const SecretBytes& ks, std::span<const std::uint8_t> rand, std::string_view impi,
                               std::string_view naf_fqdn, tls::Transport transport) {
  return crypto::derive_ks_naf(ks.view(), rand, impi, crypto::naf_id(naf_fqdn, proto::ua_binding(transport)));
}

Result<GbaBootstrap> gba_bootstrap(const UbOptions& o, Usim& usim) {
  auto bsf = Fqdn::parse(o.bsf_fqdn);
  if (!bsf) return std::unexpected(bsf.error());
  if (!o.trust && !o.context) return fail(Errc::invalid_argument, "Ub needs trust anchors for the MEF's certificate");
  tls::ClientOptions co;
  co.transport = o.transport;
  co.host = o.host;
  co.port = o.port;
  co.sni = o.bsf_fqdn;
  co.trust = o.trust;
  co.timeout = o.timeout;
  co.context = o.context;
  auto conn = tls::TlsClient::connect(std::move(co));
  if (!conn) return std::unexpected(conn.error());
  proto::HttpClient http(*conn, o.bsf_fqdn, o.timeout);

  // TS 24.109 A.3-1: the initial request names the IMPI; nonce and
  // response are empty.
  digest::Credentials first;
  first.username = o.impi;
  first.realm = o.bsf_fqdn;
  first.uri = "/";
  auto first_header = digest::format_credentials(first);
  if (!first_header) return std::unexpected(first_header.error());
  auto rsp = http.call_plain(ub_request(*first_header));
  for (int round = 0; round < 2; ++round) {
    if (!rsp) return std::unexpected(rsp.error());
    const proto::PlainHttpResponse& r = *rsp->plain;
    if (r.status != 401) return std::unexpected(refused(r));
    auto challenge = digest::parse_challenge(header_of(r, "WWW-Authenticate"));
    if (!challenge) return std::unexpected(challenge.error());
    // TS 24.109 4.2: "the UE shall check that the realm ... contains the
    // same FQDN of the BSF that was present in the BSF certificate".
    if (auto realm = Fqdn::parse(challenge->realm); !realm || !realm->matches(*bsf)) {
      return fail(Errc::authentication_failed, "the challenge's realm is not the MEF's FQDN");
    }
    if (challenge->algorithm != digest::kAkaV1Md5 || !offers_auth_int(challenge->qop)) {
      return fail(Errc::malformed_message, "the BSF must ask for AKAv1-MD5 with qop auth-int");
    }
    auto raw = base64_decode(challenge->nonce);
    if (!raw || raw->size() < 32) return fail(Errc::malformed_message, "nonce is not base64(RAND || AUTN ...)");
    std::array<std::uint8_t, 16> rand{};
    std::copy(raw->begin(), raw->begin() + 16, rand.begin());
    const std::span<const std::uint8_t> autn(raw->data() + 16, 16);
    // TS 33.102 6.3.3: MAC first (a forged challenge is a network
    // authentication failure), then SQN freshness.
    auto check = crypto::milenage_verify_autn(usim.k.view(), usim.opc.view(), rand, autn);
    if (!check) return std::unexpected(check.error());
    digest::Credentials c;
    c.username = o.impi;
    c.realm = challenge->realm;
    c.nonce = challenge->nonce;
    c.uri = "/";
    c.algorithm = std::string(digest::kAkaV1Md5);
    c.qop = "auth-int";
    c.nc = "00000001";
    c.opaque = challenge->opaque;
    std::array<std::uint8_t, 8> cnonce{};
    if (RAND_bytes(cnonce.data(), static_cast<int>(cnonce.size())) != 1) {
      return fail(Errc::invalid_argument, "no randomness for cnonce");
    }
    c.cnonce = hex_encode(cnonce);
    const std::uint64_t sqn = crypto::sqn_to_u64(check->sqn);
    const bool fresh = sqn > usim.sqn_ms && sqn - usim.sqn_ms <= kSqnDelta;
    if (!fresh) {
      if (round == 1) return fail(Errc::authentication_failed, "the BSF sent a stale SQN after resynchronisation");
      // TS 33.102 6.3.5 / RFC 3310 3.4: AUTS, with an empty password.
      auto auts = crypto::milenage_auts(usim.k.view(), usim.opc.view(), rand, crypto::sqn_from_u64(usim.sqn_ms));
      if (!auts) return std::unexpected(auts.error());
      c.auts = base64_encode(*auts);
      auto response = digest::compute_response({}, c, "GET", "");
      if (!response) return std::unexpected(response.error());
      c.response = *response;
      auto h = digest::format_credentials(c);
      if (!h) return std::unexpected(h.error());
      rsp = http.call_plain(ub_request(*h));
      continue;
    }
    usim.sqn_ms = sqn;
    const SecretBytes res(std::span<const std::uint8_t>(check->out.res.data(), check->out.res.size()));
    auto response = digest::compute_response(res.view(), c, "GET", "");
    if (!response) return std::unexpected(response.error());
    c.response = *response;
    auto h = digest::format_credentials(c);
    if (!h) return std::unexpected(h.error());
    auto ok = http.call_plain(ub_request(*h));
    conn->close();
    if (!ok) return std::unexpected(ok.error());
    const proto::PlainHttpResponse& done = *ok->plain;
    if (done.status != 200) return std::unexpected(refused(done));
    // RFC 2617 3.2.3: the server proves it knew RES over the body.
    auto info = digest::parse_authentication_info(header_of(done, "Authentication-Info"));
    if (!info) return std::unexpected(info.error());
    auto expected = digest::compute_rspauth(res.view(), c, done.body);
    if (!expected || !digest::response_matches(*expected, info->rspauth)) {
      return fail(Errc::authentication_failed, "Authentication-Info rspauth does not verify");
    }
    // RFC 2617 3.2.3: the cnonce and nc echoed are this answer's.
    if ((!info->cnonce.empty() && info->cnonce != c.cnonce) || (!info->nc.empty() && info->nc != c.nc)) {
      return fail(Errc::authentication_failed, "Authentication-Info echoes another cnonce or nc");
    }
    auto b_tid = element(done.body, "btid");
    if (!b_tid) return std::unexpected(b_tid.error());
    auto lifetime = element(done.body, "lifetime");
    if (!lifetime) return std::unexpected(lifetime.error());
    auto expires = parse_xsd_datetime(*lifetime);
    if (!expires) return std::unexpected(expires.error());
    if (*expires <= now_unix()) return fail(Errc::malformed_message, "the B-TID's <lifetime> has already passed");
    // TS 33.220 4.5.2: B-TID = base64encode(RAND)@BSF_servers_domain_name.
    if (auto got = KeyId::parse(KeyIdKind::ke, *b_tid); !got || !(*got == KeyId::b_tid(rand, *bsf))) {
      return fail(Errc::authentication_failed, "the B-TID is not base64(RAND)@MEF-FQDN");
    }
    GbaBootstrap out;
    out.b_tid = *b_tid;
    out.ks = SecretBytes(32);
    std::copy(check->out.ck.view().begin(), check->out.ck.view().end(), out.ks.data());
    std::copy(check->out.ik.view().begin(), check->out.ik.view().end(), out.ks.data() + 16);
    out.rand = rand;
    out.impi = o.impi;
    out.expires_at = *expires;
    return out;
  }
  return fail(Errc::authentication_failed, "no challenge the USIM accepts");
}

}  // namespace m2msec::client
