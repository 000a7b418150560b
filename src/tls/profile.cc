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

std::string cipher_list(const CipherProfile& profile, Transport t, bool psk, bool cert) {
  const CipherProfile defaults = default_profile(t);
  std::string out;
  if (cert) out = profile.cert_suites.empty() ? defaults.cert_suites : profile.cert_suites;
  if (psk) {
    if (!out.empty()) out += ':';
    out += profile.psk_suites.empty() ? defaults.psk_suites : profile.psk_suites;
  }
  return out;
}

}  // namespace m2msec::tls
