// m2msec/store/records.h: the value types the repositories read and write.
//
// Identifiers are text in their canonical form (KeyId::canonical() for
// KeID, KmID, KcID and KpsaID); writes reject non-canonical identifiers with
// Errc::invalid_identifier, so lookups by canonical text always match.
// Times are unix seconds supplied by the caller. Secrets are SecretBytes,
// so records are move-only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

namespace m2msec::store {

// AuthKind is how an enrolee authenticates to the MEF: a pre-provisioned
// symmetric key (Kpm/KpmID) or a certificate.
enum class AuthKind { psk, cert };
// TargetKind is what the enrolment provisions: Km for a MAF, or Kpsa for a
// direct association with Entity B.
enum class TargetKind { maf, kpsa };
enum class EnroleeState { active, removed };
// KmSource says where a MAF client's Km came from.
enum class KmSource { mef, preprovisioned };

std::string_view auth_kind_name(AuthKind v);
std::string_view target_kind_name(TargetKind v);
std::string_view enrolee_state_name(EnroleeState v);
std::string_view km_source_name(KmSource v);
// The parse_* functions accept exactly the names above; otherwise
// Errc::invalid_argument.
Result<AuthKind> parse_auth_kind(std::string_view text);
Result<TargetKind> parse_target_kind(std::string_view text);
Result<EnroleeState> parse_enrolee_state(std::string_view text);
Result<KmSource> parse_km_source(std::string_view text);

// Enrolee is one row of the MEF's enrolee list (who may enrol, and how).
// On insert, created_at and state are ignored (the store sets now and
// active).
struct Enrolee {
  std::string enrolee_id;  // CSE-ID or AE-ID (EntityId syntax)
  AuthKind auth_kind = AuthKind::psk;
  std::optional<std::string> kpm_id;             // psk only; unique
  SecretBytes kpm;                               // psk only; empty once removed
  std::optional<std::string> cert_subject;       // cert only
  std::optional<std::string> cert_trust_anchor;  // cert only
  TargetKind target_kind = TargetKind::maf;
  std::string target;                    // MAF FQDN, or Enrolee-B-ID for kpsa
  std::optional<std::int64_t> expires_at;  // enrolment may not outlive it
  std::int64_t created_at = 0;
  EnroleeState state = EnroleeState::active;
};

// Enrolment is the result of one enrolment exchange: Ke and KeID, and for
// kpsa targets the Kpsa provisioned for Entity B.
struct Enrolment {
  std::string ke_id;  // canonical KeID
  std::string enrolee_id;
  SecretBytes ke;
  std::optional<std::string> kpsa_id;  // canonical KpsaID; kpsa targets only
  SecretBytes kpsa;                    // empty unless kpsa_id
  std::int64_t created_at = 0;         // set by the store on insert
  std::int64_t expires_at = 0;
};

// MafClient is a MAF client registration: the Km shared with one entity.
struct MafClient {
  std::string km_id;  // canonical KmID
  SecretBytes km;
  std::string entity_id;
  KmSource source = KmSource::mef;
  std::optional<std::int64_t> expires_at;
  std::int64_t registered_at = 0;  // set by the store on insert
  std::optional<std::string> app_id;  // an AE's App-ID (seed 004), beside its root key
};

// check_app_id accepts an App-ID as TS-0001 7.2 forms it: "R" (registered)
// or "N" (non-registered) followed by 1..254 characters that are RFC 3986
// unreserved. Fails with Errc::invalid_identifier saying why.
Status check_app_id(std::string_view app_id);

// KcKey is a MAF key registration: Kc, registered by Entity A, retrievable
// by the entities in |targets|.
struct KcKey {
  std::string kc_id;  // canonical KcID
  SecretBytes kc;
  std::string entity_a_id;
  std::vector<std::string> targets;
  std::int64_t expires_at = 0;
  std::int64_t created_at = 0;  // set by the store on insert
};

// GBA (TS 33.220): the MEF acting as a BSF keeps its subscribers' long-term
// MILENAGE keys and the bootstrapping sessions (B-TID -> Ks) it created.

// kSqnLimit bounds a subscriber's SQN: 48 bits (TS 33.102 6.3.2).
inline constexpr std::uint64_t kSqnLimit = std::uint64_t{1} << 48;
inline constexpr std::size_t kGbaKeySize = 16;   // K, OPc and RAND
inline constexpr std::size_t kGbaKsSize = 32;    // Ks = CK || IK
inline constexpr std::size_t kMaxGbaIdLength = 255;  // IMPI, B-TID

// GbaSubscriber is one subscriber of the BSF: its IMPI, MILENAGE K and
// OPc (never OP), the highest SQN the BSF has issued, the AMF of its
// challenges, and its GBA User Security Settings as TS-0003 8.3.2.3 uses
// them: the enrolee it is (one IMPI per enrolee) and the one Enrolment
// Target allowed a NAF-specific key (Ks_NAF) for it. On insert created_at
// is ignored (the store sets now).
struct GbaSubscriber {
  std::string impi;        // an NAI, e.g. 001010123456789@ims.mnc001.mcc001.3gppnetwork.org
  SecretBytes k;           // 16 bytes
  SecretBytes opc;         // 16 bytes
  std::uint64_t sqn = 0;   // < kSqnLimit
  std::uint16_t amf = 0;
  std::string enrolee_id;  // CSE-ID or AE-ID (EntityId syntax); unique among subscribers
  TargetKind target_kind = TargetKind::maf;
  std::string target;      // MAF FQDN, or Enrolee-B-ID for kpsa: the only NAF given its Ks_NAF
  std::int64_t created_at = 0;
};

// GbaBootstrap is one bootstrapping session: the B-TID handed to the UE,
// the Ks = CK || IK both sides derived, and the RAND of its challenge (not
// secret). On insert created_at is ignored (the store sets now).
struct GbaBootstrap {
  std::string b_tid;
  std::string impi;
  SecretBytes ks;                  // 32 bytes
  std::vector<std::uint8_t> rand;  // 16 bytes
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// Completion receives the outcome of a write submitted without waiting:
// once its transaction has committed (or failed), possibly on the store's
// writer thread, so it must be quick, must not block and must not throw.
using Completion = std::function<void(Status)>;

// RowError reports why row |row| (1-based) of a bulk import was refused.
struct RowError {
  std::size_t row;
  Error error;
};

// WriteStats counts the write path since the store opened. transactions
// counts COMMITs (each one durable flush); ops counts write operations.
// With group commit, transactions < ops under concurrency.
struct WriteStats {
  std::uint64_t transactions = 0;
  std::uint64_t relaxed_transactions = 0;  // of which committed without fsync (Durability::relaxed)
  std::uint64_t ops = 0;
  std::uint64_t ops_failed = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t largest_batch = 0;
  std::uint64_t batches = 0;    // groups taken from the queue (ops / batches: the mean group size)
  std::uint64_t commit_us = 0;  // time spent writing and committing them, microseconds (durable flush included)
};

// validate_enrolee checks an enrolee before it is written: the ID is an
// EntityId; psk rows have a KpmID usable as a psk_identity
// (check_psk_identity: at most 255 bytes of printable UTF-8), a Kpm and no
// certificate fields; cert rows have a subject and trust anchor (printable
// UTF-8, at most 1024 bytes) and no Kpm; a maf target
// is an FQDN and a kpsa target an EntityId. Fails with
// Errc::invalid_identifier, Errc::invalid_fqdn or Errc::invalid_argument.
Status validate_enrolee(const Enrolee& e);

// validate_target checks an Enrolment Target as validate_enrolee does: a
// maf target is an FQDN (Errc::invalid_fqdn), a kpsa target an EntityId
// (Errc::invalid_identifier).
Status validate_target(TargetKind kind, std::string_view target);

// check_impi accepts an IMPI (TS 23.003 13.3: an NAI such as
// 001010123456789@ims.mnc001.mcc001.3gppnetwork.org): 1..kMaxGbaIdLength
// bytes of printable ASCII without spaces. Fails with
// Errc::invalid_identifier; the detail never repeats the text.
Status check_impi(std::string_view impi);

// validate_gba_subscriber checks a subscriber before it is written: the
// IMPI (check_impi), K and OPc of kGbaKeySize bytes (Errc::invalid_length),
// sqn < kSqnLimit (Errc::invalid_argument), the enrolee ID an EntityId
// (Errc::invalid_identifier) and the target as validate_target checks it.
Status validate_gba_subscriber(const GbaSubscriber& s);

// validate_gba_bootstrap checks a bootstrapping session before it is
// written at |created_at|: the B-TID (1..kMaxGbaIdLength bytes of printable
// ASCII without spaces) and the IMPI (Errc::invalid_identifier), Ks of
// kGbaKsSize and RAND of kGbaKeySize bytes (Errc::invalid_length), and
// expires_at after |created_at| (Errc::invalid_argument).
Status validate_gba_bootstrap(const GbaBootstrap& b, std::int64_t created_at);

}  // namespace m2msec::store
