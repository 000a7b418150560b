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
struct MilenageOutput {
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

}  // namespace m2msec::crypto
