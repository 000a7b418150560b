#include "m2msec/service/audit.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/printable.h"
#include "m2msec/service/auth_context.h"

namespace m2msec::service {

struct AuditLog::State {
  std::atomic<std::uint64_t> failed{0};
  Counters events;  // {event, kind, framework, reason, action}
};

std::string audit_text(std::string_view text) { return printable(text, 256); }

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, std::string role, std::string mas_id) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(Errc::io_error, "audit log " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::io_error, "audit log " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return fail(Errc::io_error, "audit log " + path + ": group or others may access it (want mode 0600)");
  }
  return std::unique_ptr<AuditLog>(new AuditLog(fd, path, std::move(role), std::move(mas_id)));
}

std::unique_ptr<AuditLog> AuditLog::in_memory(std::string role, std::string mas_id) {
  return std::unique_ptr<AuditLog>(new AuditLog(-1, "", std::move(role), std::move(mas_id)));
}

AuditLog::AuditLog(int fd, std::string path, std::string role, std::string mas_id)
    : fd_(fd), path_(std::move(path)), role_(std::move(role)), mas_id_(std::move(mas_id)),
      state_(std::make_unique<State>()) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t AuditLog::failed_writes() const { return state_->failed.load(); }

std::string AuditLog::format(const AuditEvent& e, std::int64_t now) const {
  nlohmann::ordered_json j;
  j["ts"] = now;
  j["time"] = format_utc(now);
  j["role"] = role_;
  if (!mas_id_.empty()) j["mas_id"] = mas_id_;
  j["event"] = e.event;
  auto put = [&j](const char* name, const std::string& v) {
    if (!v.empty()) j[name] = audit_text(v);
  };
  put("action", e.action);
  put("kind", e.kind);
  put("key_id", e.key_id);
  put("to", e.to);
  put("entity", e.entity);
  put("framework", e.framework);
  if (e.expires_at) j["expires_at"] = *e.expires_at;
  put("reason", e.reason);
  if (e.rsc != 0) j["rsc"] = e.rsc;
  put("resource", e.resource);
  if (e.count) j["count"] = *e.count;
  // audit_text left only printable ASCII: dump cannot throw, and the
  // replace handler is a second guard.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void AuditLog::record(const AuditEvent& e) noexcept {
  try {
    // Counted by class only (the kind, framework, reason and action are
    // short words from the code, never peer text or a key identifier).
    state_->events.add({e.event, e.kind, e.framework, e.reason, e.action});
    if (fd_ < 0) return;
    const std::string line = format(e, now_unix());
    // One write(2) on an O_APPEND descriptor: the line lands whole at the
    // end of the file, never interleaved with another writer's.
    ssize_t n;
    do {
      n = ::write(fd_, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(line.size())) return;
    const int err = errno;
    if (state_->failed.fetch_add(1) == 0) {
      spdlog::error("audit: cannot write {}: {}", path_, n < 0 ? std::strerror(err) : "short write");
    }
  } catch (...) {
    if (state_->failed.fetch_add(1) == 0) spdlog::error("audit: cannot format a record for {}", path_);
  }
}

void AuditLog::write_metrics(MetricsWriter& w) const {
  const auto events = state_->events.snapshot();
  auto family = [&](const char* name, const char* help, const char* event, auto labels) {
    w.family(name, "counter", help);
    std::map<MetricsWriter::Labels, std::uint64_t> merged;
    for (const auto& [k, n] : events) {
      if (k[0] == event) merged[labels(k)] += n;
    }
    for (const auto& [l, n] : merged) w.sample(l, n);
  };
  family("m2msec_key_grants_total", "keys granted, by key kind and framework", "grant", [&](const Counters::Key& k) {
    return MetricsWriter::Labels{{"role", role_}, {"kind", k[1]}, {"framework", k[2]}};
  });
  family("m2msec_refusals_total", "refusals of authenticated requests and key fetches, by reason", "refusal",
         [&](const Counters::Key& k) { return MetricsWriter::Labels{{"role", role_}, {"reason", k[3]}}; });
  family("m2msec_revocations_total", "keys dropped because their issuer revoked them, by key kind", "revocation",
         [&](const Counters::Key& k) { return MetricsWriter::Labels{{"role", role_}, {"kind", k[1]}}; });
  family("m2msec_operator_actions_total", "operator actions applied by this process, by action", "operator",
         [&](const Counters::Key& k) { return MetricsWriter::Labels{{"role", role_}, {"action", k[4]}}; });
  w.family("m2msec_audit_write_failures_total", "counter", "audit records that could not be written");
  w.sample({{"role", role_}}, state_->failed.load());
}

std::string refusal_reason(const proto::Response& rsp) {
  using proto::Rsc;
  std::string dbg;
  if (rsp.content.is_object()) {
    auto it = rsp.content.find("m2m:dbg");
    if (it != rsp.content.end() && it->is_string()) dbg = it->get<std::string>();
  }
  switch (rsp.rsc) {
    case Rsc::not_found:
      // store_refusal: "<what> not found" names a key or an enrolee.
      return dbg.ends_with(" not found") ? "unknown_key" : "not_found";
    case Rsc::originator_has_no_privilege:
      if (dbg.ends_with(" expired")) return "expired";
      if (dbg.find("not a target") != std::string::npos || dbg.find("not the enrolee's") != std::string::npos ||
          dbg.find("not configured for") != std::string::npos) {
        return "not_target";
      }
      return "no_privilege";
    case Rsc::security_association_required: return "unauthenticated";
    case Rsc::bad_request: return "bad_request";
    case Rsc::operation_not_allowed: return "not_allowed";
    case Rsc::conflict: return "conflict";
    case Rsc::internal_server_error: return "internal";
    default: return "rsc_" + std::to_string(static_cast<int>(rsp.rsc));
  }
}

proto::Reply audit_refusals(AuditLog* log, const AuthContext& ctx, const proto::Request& req, proto::Reply reply) {
  if (log == nullptr) return reply;
  return [log, key_id = ctx.key_id, from = req.from, to = req.to, reply = std::move(reply)](proto::Response rsp) {
    if (!proto::is_success(rsp.rsc)) {
      AuditEvent e;
      e.event = "refusal";
      e.key_id = key_id;
      e.to = from;
      e.reason = refusal_reason(rsp);
      e.rsc = static_cast<int>(rsp.rsc);
      e.resource = to;
      log->record(e);
    }
    reply(std::move(rsp));
  };
}

AuditEvent operator_event(std::string_view action, std::string_view kind, std::string_view entity,
                          std::string_view key_id) {
  AuditEvent e;
  e.event = "operator";
  e.action = action;
  e.kind = kind;
  e.entity = entity;
  e.key_id = key_id;
  return e;
}

namespace {

// key_event is a record of |event| concerning key |key_id| of |kind|.
AuditEvent key_event(std::string_view event, std::string_view kind, std::string_view key_id) {
  AuditEvent e;
  e.event = event;
  e.kind = kind;
  e.key_id = key_id;
  return e;
}

}  // namespace

void audit_grant(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view to,
                 std::string_view framework, std::optional<std::int64_t> expires_at, std::string_view entity) {
  if (log == nullptr) return;
  AuditEvent e = key_event("grant", kind, key_id);
  e.to = to;
  if (entity != to) e.entity = entity;
  e.framework = framework;
  e.expires_at = expires_at;
  log->record(e);
}

void audit_refusal(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view to,
                   std::string_view reason) {
  if (log == nullptr) return;
  AuditEvent e = key_event("refusal", kind, key_id);
  e.to = to;
  e.reason = reason;
  log->record(e);
}

void audit_revocation(AuditLog* log, std::string_view kind, std::string_view key_id, std::string_view entity,
                      std::string_view source) {
  if (log == nullptr) return;
  AuditEvent e = key_event("revocation", kind, key_id);
  e.entity = entity;
  e.reason = std::string(source) + "_feed";
  log->record(e);
}

}  // namespace m2msec::service
