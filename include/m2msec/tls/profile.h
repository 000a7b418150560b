// m2msec/tls/profile.h: the TS-0003 clause 10.2 (D)TLS profile.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace m2msec::tls {

// Transport selects TLS over TCP or DTLS over UDP.
enum class Transport { tls, dtls };

std::string_view transport_name(Transport t);

// Default suites (OpenSSL names). TS-0003 clause 10.2.2 and 10.2.3:
// "TLS implementations ... shall implement at least the following TLS
// ciphersuite: TLS_PSK_WITH_AES_128_CBC_SHA256" / "... DTLS ...
// TLS_PSK_WITH_AES_128_CCM_8", and for certificates
// TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 / TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8.
inline constexpr std::string_view kTlsPskSuite = "PSK-AES128-CBC-SHA256";
inline constexpr std::string_view kTlsCertSuite = "ECDHE-ECDSA-AES128-SHA256";
inline constexpr std::string_view kDtlsPskSuite = "PSK-AES128-CCM8";
inline constexpr std::string_view kDtlsCertSuite = "ECDHE-ECDSA-AES128-CCM8";

// kDefaultMtu is the DTLS link MTU used unless configured (bytes).
inline constexpr std::size_t kDefaultMtu = 1200;

// CipherProfile is the list of TLS 1.2 suites a context offers or accepts.
// psk_suites and cert_suites are OpenSSL cipher names separated by ':'.
// An empty list means "the clause 10.2 default for the transport". Extra
// suites (ECDHE-PSK-..., ...-GCM-...) may be appended by the caller.
struct CipherProfile {
  std::string psk_suites;
  std::string cert_suites;
};

// default_profile returns the clause 10.2 suites for |t|.
CipherProfile default_profile(Transport t);

// cipher_list returns the OpenSSL cipher string for |profile| on |t|,
// filling empty halves with the defaults; |psk| and |cert| select which
// halves are included, PSK suites first: servers use their own order, so a
// client that offers both kinds gets a PSK session. Returns "" if neither
// is selected.
std::string cipher_list(const CipherProfile& profile, Transport t, bool psk, bool cert);

}  // namespace m2msec::tls
