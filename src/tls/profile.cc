#include "m2msec/tls/profile.h"

namespace m2msec::tls {

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::tls:
      return "tls";
    case Transport::dtls:
      return "dtls";
    default:
      return "unknown";
  }
}

// TS-0003 clause 10.2.2: "TLS_PSK_WITH_AES_128_CBC_SHA256" for TLS and
// "TLS_PSK_WITH_AES_128_CCM_8" for DTLS; clause 10.2.3:
// "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" for TLS and
// "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8" for DTLS.
CipherProfile default_profile(Transport t) {
  if (t == Transport::dtls) return {std::string(kDtlsPskSuite), std::string(kDtlsCertSuite)};
  return {std::string(kTlsPskSuite), std::string(kTlsCertSuite)};
}

// PSK suites come first. Servers choose by their own order
// (SSL_OP_CIPHER_SERVER_PREFERENCE), so a client that offers PSK suites as
// well as certificate suites gets a PSK session. In TLS 1.2 the offer is
// the only sign of a PSK before the suite is chosen (the identity comes in
// ClientKeyExchange), so a client without a PSK must not offer PSK suites;
// the usual ones do not (OpenSSL clients offer them only with a PSK client
// callback, GnuTLS only when the priority string adds them: +PSK is not in
// NORMAL) and get a certificate session.
std::string cipher_list(const CipherProfile& profile, Transport t, bool psk, bool cert) {
  const CipherProfile defaults = default_profile(t);
  std::string out;
  if (psk) out = profile.psk_suites.empty() ? defaults.psk_suites : profile.psk_suites;
  if (cert) {
    if (!out.empty()) out += ':';
    out += profile.cert_suites.empty() ? defaults.cert_suites : profile.cert_suites;
  }
  return out;
}

}  // namespace m2msec::tls
