// m2msec/client/device_state.h: the credential state a device (Enrolee,
// Entity A) keeps in a directory (or, for simulated devices, in memory:
// DeviceCredentials).
//
//   <dir>/state.json   non-secret: IDs, addresses, expiries (mode 0600)
//   <dir>/ke.key       Ke   (hex, mode 0600)
//   <dir>/km.key       Km   (hex, mode 0600), for a MAF target
//   <dir>/kpsa.key     Kpsa (hex, mode 0600), for an Enrolee-B target
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::client {

struct DeviceState {
  std::string enrolee_id;     // assigned CSE-ID or AE-ID
  std::string mef_fqdn;
  std::string ke_id;          // KeID
  std::int64_t expiry = 0;    // enrolment expiry (unix s)
  std::string target_kind;    // "maf" or "kpsa"
  std::string target;         // MAF-FQDN or Enrolee-B-ID
  std::string maf_address;    // "host:port" from the MEF's instruction ("" for kpsa)
  std::string key_id;         // identity to present: KeID (until registered), KmID, or KpsaID
  std::string km_id;          // assignedSymmKeyID after MAF client registration ("" before)
  std::string sp_domain;      // the SP's domain, from the MEF (for CSE-ID FQDNs)
  std::int64_t key_lifetime = 0;  // Km/Kpsa lifetime
  // GBA (m2msec enrol --gba; TS-0003 8.3.2.3): ke_id is the B-TID, Ke is
  // Ks, and each NAF's Ks_NAF is derived when it is needed from these.
  std::string impi;           // "" unless bootstrapped by GBA
  std::string gba_rand;       // RAND of the bootstrap, hex
  std::uint64_t sqn_ms = 0;   // the simulated USIM's highest accepted SQN
  // gba_maf_ua is the transport ("tls" or "dtls") whose Ua security
  // protocol identifier formed the MAF's Ks_NAF at the first MAF
  // handshake: the MAF keeps that one Km for the client, so later sessions
  // over either transport use it ("" before the first handshake).
  std::string gba_maf_ua;
};

// DeviceCredentials is a device's state and keys held in memory instead of
// a state directory: for a program that plays many devices at once (the
// demo fleet), where per-device files would be the program's own cost.
struct DeviceCredentials {
  DeviceState state;
  SecretBytes km;    // for a MAF target
  SecretBytes kpsa;  // for an Enrolee-B target
  SecretBytes ke{};  // Ks of a GBA device (its Ks_NAFs are derived from it)
};

// save_device_state writes state.json and the given key files atomically
// with mode 0600, creating |dir| (mode 0700) if needed. Empty keys are not
// written.
Status save_device_state(const std::string& dir, const DeviceState& st, const SecretBytes& ke,
                         const SecretBytes& km, const SecretBytes& kpsa);

// load_device_state reads state.json. Fails with Errc::io_error or
// Errc::malformed_message.
Result<DeviceState> load_device_state(const std::string& dir);

// load_device_key reads <dir>/<name>.key (hex, 32 bytes, mode 0600).
Result<SecretBytes> load_device_key(const std::string& dir, const std::string& name);

}  // namespace m2msec::client
