// m2msec/crypto/gba.h: the 3GPP GBA key derivation (TS 33.220 Annex B) and
// the Ua security protocol identifier m2msec fixes for oneM2M (Annex H),
// for the GBA-based frameworks of TS-0003 8.3.2.3 (issue 13).
//
// TS-0003 8.3.2.3: "the M2M Application Service/Middle Node shall perform a
// successful GBA bootstrapping and derive a NAF key (Ks_(ext/int)_NAF).
// This NAF key is the Master Credential (Km) or Provisioned Secure
// Connection Key (Kpsa)." m2msec runs GBA_ME: Km (or Kpsa) = Ks_NAF.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::crypto {

// kGbaMeLabel is P0 of the Ks_NAF derivation (TS 33.220 B.3): "gba-me".
inline constexpr std::string_view kGbaMeLabel = "gba-me";
// kGbaKdfFcKsNaf is the FC of that derivation (TS 33.220 B.2.2: 0x01).
inline constexpr std::uint8_t kGbaKdfFcKsNaf = 0x01;
inline constexpr std::size_t kUaProtocolIdSize = 5;

// gba_kdf implements TS 33.220 B.2.0: derived key = HMAC-SHA-256(Key, S),
// S = FC || P0 || L0 || P1 || L1 || ... || Pn || Ln, each Li the length
// of Pi in octets as two big-endian octets. Errc::invalid_length for a
// parameter of 65536 octets or more.
Result<SecretBytes> gba_kdf(std::span<const std::uint8_t> key, std::uint8_t fc,
                            std::initializer_list<std::span<const std::uint8_t>> params);

// UaBinding is the transport of the Ua session (the device's (D)TLS-PSK
// handshake with the NAF: the MAF, or Entity B in the GBA-based SAEF).
enum class UaBinding { tls, dtls };

// ua_security_protocol_id is the Ua security protocol identifier of
// TS 33.220 Annex H that m2msec uses for oneM2M, which defines none:
// Annex H's shared-key TLS form (TS 33.222 5.4)
//   0x01 0x00 0x01 yy zz
// with yy zz the IANA code of the TS-0003 10.2.2 PSK suite of the Ua
// session's transport: 0x00 0xAE (TLS_PSK_WITH_AES_128_CBC_SHA256) over
// TLS, 0xC0 0xA8 (TLS_PSK_WITH_AES_128_CCM_8) over DTLS. A device that
// uses a GBA key offers only that suite, so the identifier names the suite
// the session really uses. This is the one place the identifier is formed
// (docs/derivations.md "GBA").
std::array<std::uint8_t, kUaProtocolIdSize> ua_security_protocol_id(UaBinding binding);

// is_ua_security_protocol_id is true for exactly the identifiers
// ua_security_protocol_id returns.
bool is_ua_security_protocol_id(std::span<const std::uint8_t> id);

// naf_id builds NAF_Id = FQDN of the NAF || Ua security protocol
// identifier (TS 33.220 B.3). The FQDN enters with its ASCII letters
// lowercased, as DNS names compare case-insensitively (the same rule as
// maf_id_for_km).
std::vector<std::uint8_t> naf_id(std::string_view naf_fqdn, UaBinding binding);
// naf_id with the identifier's octets given (a BSF told them on Zn).
std::vector<std::uint8_t> naf_id(std::string_view naf_fqdn, std::span<const std::uint8_t> ua_protocol_id);

// derive_ks_naf implements TS 33.220 B.3 for GBA_ME:
//   Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id)
// with FC 0x01, Ks = CK || IK (32 octets) and RAND 16 octets (otherwise
// Errc::invalid_length). IMPI enters as its UTF-8 octets, unchanged.
Result<SecretBytes> derive_ks_naf(std::span<const std::uint8_t> ks, std::span<const std::uint8_t> rand,
                                  std::string_view impi, std::span<const std::uint8_t> naf_id);

}  // namespace m2msec::crypto
