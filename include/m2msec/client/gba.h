// m2msec/client/gba.h: the device (UE) side of GBA (3GPP TS 33.220,
// TS 24.109 clause 4) for the GBA-based frameworks of TS-0003 8.3.2.3:
// bootstrap on Ub at the MEF (the BSF) with a simulated UICC, then derive
// Ks_NAF, the Km (or Kpsa) of a NAF: the MAF, or Entity B.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "m2msec/client/device_state.h"
#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/tls/client.h"

namespace m2msec::client {

// kSqnDelta is how far above SQN_MS a fresh SQN may be (TS 33.102 C.2.1:
// "the difference ... must not exceed Delta"; 2^28 is Annex C's example).
inline constexpr std::uint64_t kSqnDelta = std::uint64_t{1} << 28;

// Usim is a simulated UICC: MILENAGE K and OPc, and SQN_MS, the highest
// SQN it has accepted. m2msec's USIM runs no IND array: an SQN is fresh
// when SQN_MS < SQN <= SQN_MS + kSqnDelta (TS 33.102 C.2 with one array
// element). K and OPc come from 0600 files (m2msec enrol --gba), SQN_MS
// from the state directory.
struct Usim {
  SecretBytes k;    // 16 bytes
  SecretBytes opc;  // 16 bytes
  std::uint64_t sqn_ms = 0;
};

// UbOptions says where the BSF (the MEF) is and who the device is. The
// session is server-authenticated only: the device has no credential yet,
// and trusts the MEF's certificate through |trust|.
struct UbOptions {
  tls::Transport transport = tls::Transport::tls;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string bsf_fqdn;  // the MEF's FQDN: SNI, the certificate's name, the realm
  std::shared_ptr<const tls::TrustAnchors> trust;
  std::string impi;
  std::chrono::milliseconds timeout{10000};
  // context, if set, is a certificate-verifying client context built once
  // (for a program that bootstraps many devices).
  std::shared_ptr<const tls::ClientContext> context;
};

// GbaBootstrap is what a successful Ub run yields: B-TID (KeID), Ks (Ke)
// and what Ks_NAF derivations need.
struct GbaBootstrap {
  std::string b_tid;
  SecretBytes ks;  // CK || IK, 32 bytes
  std::array<std::uint8_t, 16> rand{};
  std::string impi;
  std::int64_t expires_at = 0;  // the BSF's <lifetime>
};

// gba_bootstrap runs Ub (TS 24.109 4.2): the initial GET, the AKA
// challenge (the USIM checks AUTN: MAC, then SQN freshness; a stale SQN is
// answered with AUTS and a new challenge is awaited, once), the Digest
// response with RES as password, and the 200 with the B-TID, whose
// Authentication-Info rspauth must verify. |usim.sqn_ms| advances to the
// SQN accepted. Fails with the transport's errors, Errc::request_refused
// (the BSF's status), Errc::authentication_failed (AUTN, rspauth or the
// B-TID does not check out) or Errc::malformed_message.
Result<GbaBootstrap> gba_bootstrap(const UbOptions& options, Usim& usim);

// gba_device_state is the device state of a bootstrap: KeID and the
// identity to present = the B-TID, the device's |entity_id| (as the MEF's
// subscriber record names it), and, if |maf_fqdn| is set, the MAF to
// associate through (target_kind "maf"; else "gba": the GBA-based SAEF
// only), and as SP domain the MEF's parent domain. Ke (Ks) is saved beside
// it; Km and Kpsa are derived per NAF.
DeviceState gba_device_state(const GbaBootstrap& bootstrap, const std::string& mef_fqdn, const std::string& entity_id,
                             const std::string& maf_fqdn, const std::string& maf_address, std::uint64_t sqn_ms);

// gba_ks_naf derives Ks_NAF (TS 33.220 B.3) for the NAF named |naf_fqdn|
// reached over |transport| (crypto::ua_security_protocol_id).
Result<SecretBytes> gba_ks_naf(const SecretBytes& ks, std::span<const std::uint8_t> rand, std::string_view impi,
                               std::string_view naf_fqdn, tls::Transport transport);

// gba_psk_suite is the one PSK suite a device offers on a Ua session over
// |transport|, the one its Ua security protocol identifier names.
std::string gba_psk_suite(tls::Transport transport);

}  // namespace m2msec::client
