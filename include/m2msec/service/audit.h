// m2msec/service/audit.h: the append-only audit trail of a role
// (docs/audit.md): one JSON object per line for every key grant, every
// refusal of an authenticated request, and every operator action.
//
// A record names keys by identifier only; no field ever carries a key
// value. Peer-supplied text goes through printable() (core/printable.h)
// before it is written, so a line is one line of ASCII JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/admin.h"

namespace m2msec::service {

struct AuthContext;

// AuditEvent is one record. Empty strings and unset optionals are left out
// of the line.
struct AuditEvent {
  std::string event;      // "grant", "refusal", "revocation" or "operator"
  std::string kind;       // key kind: "ke", "km", "kc", "kpsa", "kpm", "enrolee", ...
  std::string key_id;     // key identifier (never the key)
  std::string to;         // the entity or peer the key was granted to / refused to
  std::string entity;     // the entity the key belongs to, when not |to|
  std::string framework;  // "rsp" (remote provisioning), "maf-saef", "kpsa-saef", ...
  std::optional<std::int64_t> expires_at;  // unix seconds
  std::string reason;     // refusal class, e.g. "unknown_key", "expired", "no_privilege"
  int rsc = 0;            // the oneM2M response code of a refusal
  std::string resource;   // request target of a refusal
  std::string action;     // operator event: "add", "import", "remove", "revoke", "rotate"
  std::optional<std::int64_t> count;  // operator event: how many rows (import)
};

// AuditLog appends records to one file. Thread-safe: each record is one
// write(2) to a descriptor opened with O_APPEND, so records from threads
// and processes (a server and an operator command) never interleave.
// Records are not fsync-ed: a crash of the host may lose the last records
// the kernel had not written back.
class AuditLog {
 public:
  // open opens (creating, mode 0600) |path| for appending. |role| ("mef",
  // "maf", "cse") and, if not empty, |mas_id| go into every record. Fails
  // with Errc::io_error if the file cannot be opened, is not a regular
  // file, or is readable or writable by group or others.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path, std::string role, std::string mas_id = "");
  // in_memory is a log with no file: records are only counted (for a role
  // whose config names no audit file, so that its metrics still count
  // grants and refusals).
  static std::unique_ptr<AuditLog> in_memory(std::string role, std::string mas_id = "");
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // record appends |e| with the current time and counts it. Never throws;
  // a failed write is logged (once per run) and counted.
  void record(const AuditEvent& e) noexcept;

  // write_metrics adds the families counted from the records since open:
  // m2msec_key_grants_total{kind,framework}, m2msec_refusals_total{reason},
  // m2msec_revocations_total{kind}, m2msec_operator_actions_total{action},
  // m2msec_audit_write_failures_total.
  void write_metrics(MetricsWriter& w) const;

  // format returns the line record() would write at |now| (with "\n").
  std::string format(const AuditEvent& e, std::int64_t now) const;

  const std::string& path() const { return path_; }
  std::uint64_t failed_writes() const;

 private:
  AuditLog(int fd, std::string path, std::string role, std::string mas_id);
  int fd_;
  std::string path_, role_, mas_id_;
  struct State;
  std::unique_ptr<State> state_;
};

// refusal_reason classifies a refusal response (the class, never its free
// text): "unknown_key", "expired", "not_target", "no_privilege",
// "unauthenticated", "bad_request", "not_allowed", "conflict",
// "not_found", "internal" or "rsc_<n>".
std::string refusal_reason(const proto::Response& rsp);

// audit_refusals returns |reply| wrapped so that a refusal (a response
// that is not 2xxx) is recorded in |log| with the peer's key identifier,
// X-M2M-Origin and target; with a null |log|, |reply| itself.
proto::Reply audit_refusals(AuditLog* log, const AuthContext& ctx, const proto::Request& req, proto::Reply reply);

// operator_event is an "operator" record of |action| on |entity| and/or
// the key |key_id| of |kind|.
AuditEvent operator_event(std::string_view action, std::string_view kind, std::string_view entity,
                          std::string_view key_id = {});

// audit_grant records a grant of key |key_id| (of |kind|) to |to| under
// |framework| in |log|; does nothing with a null |log|.
void audit_grant(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view to,
                 std::string_view framework, std::optional<std::int64_t> expires_at, std::string_view entity = {});

// audit_refusal records a refusal of class |reason| concerning |key_id|
// to |to|; does nothing with a null |log|.
void audit_refusal(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view to,
                   std::string_view reason);

// audit_revocation records that this role dropped key |key_id| (of
// |kind|, belonging to |entity|) because its issuer revoked it; |source|
// names the feed ("mef", "maf"). Does nothing with a null |log|.
void audit_revocation(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view entity,
                      std::string_view source);

// audit_text is |text| made safe and short for a record (printable(),
// at most 256 input bytes).
std::string audit_text(std::string_view text);

}  // namespace m2msec::service
