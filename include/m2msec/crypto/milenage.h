// m2msec/crypto/milenage.h: the 3GPP MILENAGE authentication and key
// generation functions (TS 35.206: f1, f1*, f2, f3, f4, f5, f5* and the
// derivation of OPc from OP) over OpenSSL's AES-128, for the GBA bootstrap
// of issue 13. Checked against the TS 35.208 conformance sets
// (tests/vectors/milenage-ts35208.tsv).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::crypto {

inline constexpr std::size_t kMilenageKeySize = 16;  // K, OP, OPc, RAND, CK, IK
inline constexpr std::size_t kSqnSize = 6;
inline constexpr std::size_t kAmfSize = 2;

// MilenageOutput is what one run of f1-f5 (and f1*, f5*) gives for one
// (K, OPc, RAND, SQN, AMF).
// Every member is wiped when the output goes: RES is the Digest password
// of GBA's Ub, AK and AK* conceal SQN.
struct MilenageOutput {
  MilenageOutput() = default;
  MilenageOutput(MilenageOutput&&) noexcept = default;
  MilenageOutput& operator=(MilenageOutput&&) noexcept = default;
  ~MilenageOutput();

  std::array<std::uint8_t, 8> mac_a{};  // f1
  std::array<std::uint8_t, 8> mac_s{};  // f1*
  std::array<std::uint8_t, 8> res{};    // f2
  SecretBytes ck;                       // f3, 16 bytes
  SecretBytes ik;                       // f4, 16 bytes
  std::array<std::uint8_t, 6> ak{};     // f5
  std::array<std::uint8_t, 6> ak_s{};   // f5* (resynchronisation)
};

// milenage_opc derives OPc = E_K(OP) xor OP. Errc::invalid_length unless
// both are 16 bytes.
Result<SecretBytes> milenage_opc(std::span<const std::uint8_t> k, std::span<const std::uint8_t> op);

// milenage runs f1, f1*, f2, f3, f4, f5 and f5* (TS 35.206 clause 4.1)
// with the standard constants (r1..r5 = 64, 0, 32, 64, 96 bits; c1..c5 =
// 0, 1, 2, 4, 8). Errc::invalid_length for a K, OPc or RAND that is not
// 16 bytes, an SQN not 6 or an AMF not 2.
Result<MilenageOutput> milenage(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                std::span<const std::uint8_t> rand, std::span<const std::uint8_t> sqn,
                                std::span<const std::uint8_t> amf);

// milenage_autn builds AUTN = (SQN xor AK) || AMF || MAC-A (TS 33.102
// 6.3.2) from a run's output.
std::array<std::uint8_t, 16> milenage_autn(const MilenageOutput& out, std::span<const std::uint8_t, kSqnSize> sqn,
                                           std::span<const std::uint8_t, kAmfSize> amf);

inline constexpr std::size_t kAutnSize = 16;
inline constexpr std::size_t kAutsSize = 14;
using Sqn = std::array<std::uint8_t, kSqnSize>;

// AutnCheck is what the USIM side learns from an AUTN that verifies: the
// SQN the network sent and the run's output (RES, CK, IK).
struct AutnCheck {
  Sqn sqn{};
  MilenageOutput out;
};

// milenage_verify_autn is the USIM's check of TS 33.102 6.3.3: SQN =
// (SQN xor AK) xor f5(RAND), then XMAC = f1(K, SQN, RAND, AMF) must equal
// the AUTN's MAC (compared in constant time; Errc::authentication_failed
// otherwise). Whether SQN is fresh is the caller's decision (it keeps
// SQN_MS). Errc::invalid_length for wrong input sizes.
Result<AutnCheck> milenage_verify_autn(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                       std::span<const std::uint8_t> rand, std::span<const std::uint8_t> autn);

// milenage_auts builds the resynchronisation token of TS 33.102 6.3.5:
//   AUTS = (SQN_MS xor f5*(K, RAND)) || MAC-S,
//   MAC-S = f1*(K, SQN_MS, RAND, AMF*), "AMF* ... a dummy value of all
//   zeros".
Result<std::array<std::uint8_t, kAutsSize>> milenage_auts(std::span<const std::uint8_t> k,
                                                          std::span<const std::uint8_t> opc,
                                                          std::span<const std::uint8_t> rand, const Sqn& sqn_ms);

// milenage_verify_auts is the network side of 6.3.5: it recovers SQN_MS
// from |auts| and checks MAC-S in constant time
// (Errc::authentication_failed if it differs). Errc::invalid_length for
// wrong input sizes.
Result<Sqn> milenage_verify_auts(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                 std::span<const std::uint8_t> rand, std::span<const std::uint8_t> auts);

// sqn_from_u64 / sqn_to_u64 convert between a 48-bit number and its six
// big-endian octets (values above 2^48 - 1 keep their low 48 bits).
Sqn sqn_from_u64(std::uint64_t v);
std::uint64_t sqn_to_u64(const Sqn& sqn);

}  // namespace m2msec::crypto
