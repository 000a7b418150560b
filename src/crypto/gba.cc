#include "m2msec/crypto/gba.h"

#include <algorithm>

#include "m2msec/crypto/derive.h"
#include "m2msec/crypto/hmac.h"
#include "m2msec/crypto/milenage.h"

namespace m2msec::crypto {

Result<SecretBytes> gba_kdf(std::span<const std::uint8_t> key, std::uint8_t fc,
                            std::initializer_list<std::span<const std::uint8_t>> params) {
  // S is built in one buffer that is wiped afterwards: RAND is public, but
  // an IMPI names a subscriber and does not belong in freed memory.
  std::size_t size = 1;
  for (auto p : params) {
    if (p.size() > 0xffff) return fail(Errc::invalid_length, "GBA KDF parameter longer than 65535 octets");
    size += p.size() + 2;
  }
  SecretBytes s(size);
  std::uint8_t* out = s.data();
  *out++ = fc;
  for (auto p : params) {
    out = std::copy(p.begin(), p.end(), out);
    *out++ = static_cast<std::uint8_t>(p.size() >> 8);
    *out++ = static_cast<std::uint8_t>(p.size() & 0xff);
  }
  return hmac_sha256(key, {s.view()});
}

std::array<std::uint8_t, kUaProtocolIdSize> ua_security_protocol_id(UaBinding binding) {
  switch (binding) {
    case UaBinding::tls:
      return {0x01, 0x00, 0x01, 0x00, 0xAE};
    case UaBinding::dtls:
      return {0x01, 0x00, 0x01, 0xC0, 0xA8};
    default:
      return ua_security_protocol_id(UaBinding::tls);
  }
}

bool is_ua_security_protocol_id(std::span<const std::uint8_t> id) {
  for (UaBinding b : {UaBinding::tls, UaBinding::dtls}) {
    const auto ua = ua_security_protocol_id(b);
    if (std::equal(id.begin(), id.end(), ua.begin(), ua.end())) return true;
  }
  return false;
}

std::vector<std::uint8_t> naf_id(std::string_view naf_fqdn, std::span<const std::uint8_t> ua_protocol_id) {
  const std::string fqdn = maf_id_for_km(naf_fqdn);  // the one FQDN lowercasing of the derivations
  std::vector<std::uint8_t> out(fqdn.begin(), fqdn.end());
  out.insert(out.end(), ua_protocol_id.begin(), ua_protocol_id.end());
  return out;
}

std::vector<std::uint8_t> naf_id(std::string_view naf_fqdn, UaBinding binding) {
  return naf_id(naf_fqdn, ua_security_protocol_id(binding));
}

Result<SecretBytes> derive_ks_naf(std::span<const std::uint8_t> ks, std::span<const std::uint8_t> rand,
                                  std::string_view impi, std::span<const std::uint8_t> naf_id) {
  if (ks.size() != 2 * kMilenageKeySize) return fail(Errc::invalid_length, "Ks must be 32 bytes (CK || IK)");
  if (rand.size() != kMilenageKeySize) return fail(Errc::invalid_length, "RAND must be 16 bytes");
  return gba_kdf(ks, kGbaKdfFcKsNaf, {as_bytes(kGbaMeLabel), rand, as_bytes(impi), naf_id});
}

}  // namespace m2msec::crypto
