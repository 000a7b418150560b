// m2msec/proto/messages.h: the Mmef and Mmaf messages (see docs/protocol.md).
//
// TS-0032, which defines these messages on the wire, is not available, so
// m2msec carries them as oneM2M primitives over the HTTP binding with JSON
// bodies and sec:-style short names, modelled on the parameter tables of
// TS-0003 clauses 8.3.2.1 and 8.8.2. Each message has to_json() and a
// strict from_json() that fails with Errc::malformed_message naming the
// offending field. Times are oneM2M "YYYYMMDDTHHMMSS" strings on the wire
// and unix seconds in memory. Key values travel as base64.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/crypto/gba.h"
#include "m2msec/tls/profile.h"

namespace m2msec::proto {

// m2msec's resource types for the create operations (private range).
inline constexpr int kTyEnrolment = 10001;          // sec:enr
inline constexpr int kTyMafClientReg = 10002;       // sec:mcr
inline constexpr int kTyMafKeyReg = 10003;          // sec:mkr
inline constexpr int kTyMafKeyDereg = 10004;        // sec:mkd (m2msec extension)
inline constexpr int kTyCredentialFetch = 10005;    // sec:fcb (m2msec extension)

// Security Usage Identifiers m2msec uses (TS-0003 clause 8.8.2.3 names
// SUID 21 for a remotely provisioned key shared with a MAF).
inline constexpr int kSuidMafKm = 21;   // Km, shared with a MAF
inline constexpr int kSuidKpsa = 22;    // Kpsa, shared with an Enrolee B
inline constexpr int kSuidMafSaef = 32; // Kc for the MAF-based SAEF (TS-0004 MAF range 32-35)

// Resource paths.
inline constexpr std::string_view kMefPath = "/mef";
inline constexpr std::string_view kMefFetchPrefix = "/mef/fetchCredentials/";
// Several fetchCredentials of Km in one request (an m2msec extension;
// docs/protocol.md "Batches of Km fetches"): CREATE with a sec:fcb body.
inline constexpr std::string_view kMefFetchBatchPath = "/mef/credentialFetches";
inline constexpr std::string_view kMafPath = "/maf";
inline constexpr std::string_view kMafKeysPrefix = "/maf/keys/";
inline constexpr std::string_view kMafClientsPrefix = "/maf/clients/";
// De-registration of several Kc keys in one request (an m2msec extension;
// docs/protocol.md "MAF Key De-Registration"): CREATE with a sec:mkd body.
inline constexpr std::string_view kMafKeyDeregPath = "/maf/keyDeregistrations";
// Revocation feeds (docs/protocol.md "Revocation feed"): RETRIEVE
// <prefix><seq> answers the entries after <seq>.
inline constexpr std::string_view kMefRevocationsPrefix = "/mef/revocations/";
inline constexpr std::string_view kMafRevocationsPrefix = "/maf/revocations/";
// Kc holders (docs/protocol.md "Kc holders", an m2msec extension): an
// Entity B process names itself in MAF Key Retrieval and De-Registration
// as <kMafKeysPrefix><relative KcID>?holder=<id>, so that the MAF drops a
// Kc only when the last Entity B process holding it lets it go. <id> is
// 1..64 of [0-9A-Za-z_-].
inline constexpr std::string_view kHolderQuery = "?holder=";
// kUaQuery names, on a fetchCredentials request by a B-TID, the Ua
// security protocol identifier (hex) of the device's session with the
// requester (GBA Zn, docs/protocol.md): "?ua=01000100ae".
inline constexpr std::string_view kUaQuery = "ua=";

// ua_binding is the Ua binding of a session over |transport|: the one
// place a transport becomes a Ua security protocol identifier
// (crypto::ua_security_protocol_id), for devices and NAFs alike.
crypto::UaBinding ua_binding(tls::Transport transport);

// fetch_credentials_path is the target of a fetchCredentials request
// (docs/protocol.md 2.2) for |key_id| and |suid|; with |ua| set, a Zn
// request for a B-TID's Ks_NAF naming the Ua transport (2.4): "?ua=<hex>".
std::string fetch_credentials_path(std::string_view key_id, int suid, std::optional<tls::Transport> ua = {});

// check_holder_id accepts a holder ID as above; Errc::invalid_argument
// otherwise.
Status check_holder_id(std::string_view id);

// KeyPath is a /maf/keys/ target split: the percent-decoded relative KcID
// and the holder ("" if the target names none).
struct KeyPath {
  std::string relative;
  std::string holder;
};
// parse_key_path splits the part of a target after kMafKeysPrefix.
// Errc::invalid_argument for a bad escape, another query or a bad holder.
Result<KeyPath> parse_key_path(std::string_view rest);

// kCseMafKeysPath is where Entity B accepts a Kc pushed by its MAF at key
// registration (an m2msec extension; docs/protocol.md "MAF Key Push").
inline constexpr std::string_view kCseMafKeysPath = "/mafKeys";

// --- Mmef -----------------------------------------------------------------

// EnrolRequest: table 8.3.2.1-1 plus the IdMAF of seed 002.
struct EnrolRequest {
  bool certificate_enrolment = false;  // cei
  bool maf_enrolment = true;           // mei
  bool remote_management = false;     // rmi
  std::string maf_id;                  // idm: the MAF the enrolee wants ("" if none)

  nlohmann::json to_json() const;
  static Result<EnrolRequest> from_json(const nlohmann::json& j);
};

// EnrolInstruction: table 8.3.2.1-3 (MAF) or the Kpsa target (10.3.3).
struct EnrolInstruction {
  enum class Kind { maf, kpsa };
  Kind kind = Kind::maf;
  std::string target;            // MAF-FQDN or Enrolee-B-ID
  std::string credential_type;   // ctp: "psk" (maf)
  std::string client_reg_uri;    // cru (maf)
  std::string key_reg_uri;       // kru (maf)
  std::string key_retrieval_uri; // kri (maf)
  std::string key_id;            // kid: the identifier to present to the target
  std::int64_t lifetime = 0;     // lt: expiry of the derived key (unix s)
};

// EnrolResponse: the MEF's answer to the enrolment exchange.
struct EnrolResponse {
  std::string enrolee_id;          // ide: assigned CSE-ID or AE-ID
  std::string ke_id;               // kei: KeID as the MEF formed it
  std::int64_t expiry = 0;         // exp: enrolment expiry (0: none)
  std::string sp_domain;           // spd: the SP's domain (m2msec), for CSE-ID FQDNs
  std::vector<EnrolInstruction> instructions;  // ins

  nlohmann::json to_json() const;
  static Result<EnrolResponse> from_json(const nlohmann::json& j);
};

// CredentialResponse: table 8.3.2.1-5, the MEF's answer to
// RETRIEVE /mef/fetchCredentials/<KeID>/<SUID>.
struct CredentialResponse {
  SecretBytes key;                 // kv (base64 on the wire)
  std::string enrolee_id;          // ide
  std::int64_t lifetime = 0;       // lt (unix s)
  std::string key_id;              // kid: the KmID/KpsaID the key is known by

  nlohmann::json to_json() const;
  static Result<CredentialResponse> from_json(const nlohmann::json& j);
};

// kMaxFetchBatch bounds the entries of one CredentialFetchBatch.
inline constexpr std::size_t kMaxFetchBatch = 64;

// CredentialFetchBatch (sec:fcb) asks the MEF for the Km of several KeIDs
// in one request, each as RETRIEVE
// <kMefFetchPrefix><KeID>/<kSuidMafKm>[?ua=<ua>] would: a MAF sends the
// KeIDs whose devices arrived while its previous fetch from that MEF was
// in flight (docs/protocol.md "Batches of Km fetches").
struct CredentialFetchBatch {
  struct Entry {
    std::string ke_id;  // kid: the KeID (or a B-TID)
    std::string ua;     // ua: the Ua security protocol identifier in hex ("" none)
  };
  std::vector<Entry> entries;  // fcr: 1 to kMaxFetchBatch entries

  nlohmann::json to_json() const;
  static Result<CredentialFetchBatch> from_json(const nlohmann::json& j);
};

// CredentialFetchResults (sec:fcbr) answers a CredentialFetchBatch: per
// entry, in the batch's order, the RSC and the content its own RETRIEVE
// would have had (a sec:crd on 2000, an m2m:dbg otherwise).
struct CredentialFetchResults {
  struct Entry {
    int rsc = 0;                 // rsc
    nlohmann::json content;      // pc
  };
  std::vector<Entry> entries;    // rsp

  nlohmann::json to_json() const;
  static Result<CredentialFetchResults> from_json(const nlohmann::json& j);
};

// --- Mmaf -----------------------------------------------------------------

// MafClientRegRequest: table 8.8.2.3-1.
struct MafClientRegRequest {
  std::string maf_fqdn;            // fqdn
  std::int64_t expiration = 0;     // et
  std::string admin_fqdn;          // adm

  nlohmann::json to_json() const;
  static Result<MafClientRegRequest> from_json(const nlohmann::json& j);
};

// MafClientRegResponse: table 8.8.2.3-2.
struct MafClientRegResponse {
  std::string reg_id;              // ri: mafClientRegID
  std::int64_t expiration = 0;     // et
  std::string client_id;           // cid
  std::string admin_fqdn;          // adm
  std::string assigned_key_id;     // sid: assignedSymmKeyID (KmID), may be ""

  nlohmann::json to_json() const;
  static Result<MafClientRegResponse> from_json(const nlohmann::json& j);
};

// MafKeyRegRequest: table 8.8.2.7-1 (no Key Value: the exporter makes Kc).
struct MafKeyRegRequest {
  std::string maf_fqdn;            // fqdn
  std::int64_t expiration = 0;     // et
  std::string admin_fqdn;          // adm
  int suid = kSuidMafSaef;         // suid
  std::vector<std::string> targets;  // tids

  nlohmann::json to_json() const;
  static Result<MafKeyRegRequest> from_json(const nlohmann::json& j);
};

// MafKeyRegResponse: table 8.8.2.7-2.
struct MafKeyRegResponse {
  std::string relative_key_id;     // rki
  std::int64_t expiration = 0;     // et
  std::string source_id;           // sid
  std::string admin_fqdn;          // adm
  int suid = kSuidMafSaef;         // suid
  std::vector<std::string> targets;  // tids

  nlohmann::json to_json() const;
  static Result<MafKeyRegResponse> from_json(const nlohmann::json& j);
};

// MafKeyRetrieveResponse: table 8.8.2.8-2, the answer to
// RETRIEVE /maf/keys/<RelativeKeyID>.
struct MafKeyRetrieveResponse {
  SecretBytes key;                 // kv
  std::int64_t expiration = 0;     // et
  std::string source_id;           // sid: Entity A
  std::string admin_fqdn;          // adm
  int suid = kSuidMafSaef;         // suid

  nlohmann::json to_json() const;
  static Result<MafKeyRetrieveResponse> from_json(const nlohmann::json& j);
};

// MafKeyPush (sec:mkp) is the MAF handing a newly registered Kc to the
// Entity B it names as target, so that Entity B's first handshake with
// the KcID needs no MAF Key Retrieval (docs/protocol.md "MAF Key Push").
struct MafKeyPush {
  std::string kc_id;               // kid: the KcID (…@MAF-FQDN)
  SecretBytes key;                 // kv
  std::int64_t expiration = 0;     // et (required)
  std::string source_id;           // sid: Entity A
  std::string admin_fqdn;          // adm
  int suid = kSuidMafSaef;         // suid

  MafKeyPush clone() const;  // the key copied, to be wiped with the copy
  nlohmann::json to_json() const;
  static Result<MafKeyPush> from_json(const nlohmann::json& j);
};

// kMaxPushBatch bounds the keys of one MafKeyPushBatch.
inline constexpr std::size_t kMaxPushBatch = 64;

// MafKeyPushBatch (sec:mkb) carries several pushes to one Entity B in one
// request: the MAF sends the keys whose registrations committed while its
// previous push to that Entity B was in flight (docs/protocol.md "MAF Key
// Push"). Each entry has the fields of a sec:mkp body.
struct MafKeyPushBatch {
  std::vector<MafKeyPush> keys;    // mkp: 1 to kMaxPushBatch entries

  nlohmann::json to_json() const;
  static Result<MafKeyPushBatch> from_json(const nlohmann::json& j);
};

// MafKeyPushResults (sec:mkbr) answers a MafKeyPushBatch: one RSC per
// entry, in the batch's order (2001: Entity B holds the key).
struct MafKeyPushResults {
  std::vector<int> rsc;            // rsc

  nlohmann::json to_json() const;
  static Result<MafKeyPushResults> from_json(const nlohmann::json& j);
};

// kMaxDeregBatch bounds the keys of one MafKeyDeregBatch.
inline constexpr std::size_t kMaxDeregBatch = 64;

// MafKeyDeregBatch (sec:mkd) de-registers several Kc keys of one MAF in
// one request, each as DELETE <kMafKeysPrefix><relative>[?holder=<hld>]
// would: Entity B sends the keys whose connections ended while its
// previous de-registration at that MAF was in flight (docs/protocol.md
// "MAF Key De-Registration").
struct MafKeyDeregBatch {
  std::vector<std::string> relative_ids;  // kid: 1 to kMaxDeregBatch RelativeKcIDs
  std::string holder;                     // hld: the holder letting them go ("" none)

  nlohmann::json to_json() const;
  static Result<MafKeyDeregBatch> from_json(const nlohmann::json& j);
};

// MafKeyDeregResults (sec:mkdr) answers a MafKeyDeregBatch: one RSC per
// entry, in the batch's order (2002: de-registered, or released by the
// holder).
struct MafKeyDeregResults {
  std::vector<int> rsc;                   // rsc

  nlohmann::json to_json() const;
  static Result<MafKeyDeregResults> from_json(const nlohmann::json& j);
};

// RevocationEntry is one entry of an issuer's revocation log: identifiers
// only, never a key.
struct RevocationEntry {
  std::int64_t seq = 0;                // sn
  std::string kind;                    // knd: "ke", "km" or "kc"
  std::string key_id;                  // kid: KeID, KmID or KcID
  std::string entity_id;               // eid: whose key it was ("" unknown)
  std::string kpsa_id;                 // kps: ke entries of Kpsa enrolees ("" none)
  std::int64_t expiration = 0;         // et: 0 for a key with no expiry
  std::int64_t revoked_at = 0;         // rt
};

// RevocationFeed (sec:rvf) answers RETRIEVE /mef/revocations/<after> and
// /maf/revocations/<after>: the entries with a larger seq meant for the
// requester, in seq order, at most 1000.
struct RevocationFeed {
  std::string epoch;                   // ep: 32 hex digits; changes when the log is new
  std::int64_t head = 0;               // hd: the log's last seq
  bool more = false;                   // mr: more entries follow the last one
  std::vector<RevocationEntry> entries;  // ent

  nlohmann::json to_json() const;
  static Result<RevocationFeed> from_json(const nlohmann::json& j);
};

}  // namespace m2msec::proto
