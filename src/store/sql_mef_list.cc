// sql_mef_list.cc: the operator side of SqlMefRepository (listing
// and counts). Nothing here selects a secret column (kpm, ke, kpsa).
#include <optional>

#include "sql_mef.h"

namespace m2msec::store::detail {
namespace {

// kListEnrolees pages enrolees joined with their enrolment (at most one
// each, so LIMIT counts enrolees). A NULL filter parameter matches all
// (the CAST tells PostgreSQL the type of a parameter only tested for NULL).
constexpr std::string_view kListEnrolees =
    "SELECT e.enrolee_id, e.auth_kind, e.kpm_id, e.cert_subject, e.target_kind, e.target, e.expires_at, "
    "e.created_at, e.state, n.ke_id, n.kpsa_id, n.created_at, n.expires_at, e.cert_trust_anchor "
    "FROM enrolees AS e LEFT JOIN enrolments AS n ON n.enrolee_id = e.enrolee_id "
    "WHERE e.enrolee_id > ?1 AND (CAST(?2 AS TEXT) IS NULL OR e.state = ?2) "
    "AND (CAST(?3 AS TEXT) IS NULL OR e.target_kind = ?3) AND (CAST(?4 AS TEXT) IS NULL OR e.target = ?4) "
    "ORDER BY e.enrolee_id LIMIT ?5";

constexpr std::string_view kCounts =
    "SELECT (SELECT count(*) FROM enrolees WHERE state = 'active'), "
    "(SELECT count(*) FROM enrolees WHERE state = 'removed'), (SELECT count(*) FROM enrolments)";

// name_of maps an optional enum to its stored name, or nullopt (NULL).
template <typename E, typename Name>
std::optional<std::string> name_of(const std::optional<E>& v, Name name) {
  if (!v) return std::nullopt;
  return std::string(name(*v));
}

Status bind_filter(Stmt& s, const EnroleeFilter& f) {
  Status st = s.bind_text(1, f.page.after);
  if (st) st = s.bind_optional(2, name_of(f.state, enrolee_state_name));
  if (st) st = s.bind_optional(3, name_of(f.target_kind, target_kind_name));
  if (st) st = s.bind_optional(4, f.target);
  if (st) st = s.bind_int64(5, static_cast<std::int64_t>(f.page.limit));
  return st;
}

// decode_summary reads one kListEnrolees row. Errc::store_error if a kind
// or state column holds an unknown name.
Result<EnroleeSummary> decode_summary(const Stmt& s) {
  Result<AuthKind> ak = parse_auth_kind(s.column_text(1));
  Result<TargetKind> tk = parse_target_kind(s.column_text(4));
  Result<EnroleeState> state = parse_enrolee_state(s.column_text(8));
  if (!ak || !tk || !state) return fail(Errc::store_error, "corrupt enrolee row " + s.column_text(0));
  EnroleeSummary e;
  e.enrolee_id = s.column_text(0);
  e.auth_kind = *ak;
  e.kpm_id = s.column_optional_text(2);
  e.cert_subject = s.column_optional_text(3);
  e.cert_trust_anchor = s.column_optional_text(13);
  e.target_kind = *tk;
  e.target = s.column_text(5);
  e.expires_at = s.column_optional_int64(6);
  e.created_at = s.column_int64(7);
  e.state = *state;
  if (!s.is_null(9)) {
    e.enrolment = EnrolmentSummary{s.column_text(9), s.column_optional_text(10), s.column_int64(11),
                                   s.column_int64(12)};
  }
  return e;
}

}  // namespace

Result<std::vector<EnroleeSummary>> SqlMefRepository::list_enrolees(const EnroleeFilter& filter) {
  return guarded([&]() -> Result<std::vector<EnroleeSummary>> {
    Status st = check_page(filter.page);
    if (!st) return std::unexpected(st.error());
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = lease.conn().prepare(kListEnrolees);
    if (!s) return std::unexpected(s.error());
    st = bind_filter(*s, filter);
    if (!st) return std::unexpected(st.error());
    return collect<EnroleeSummary>(*s, decode_summary);
  });
}

Result<MefCounts> SqlMefRepository::counts() {
  return guarded([&]() -> Result<MefCounts> {
    Result<std::vector<std::uint64_t>> n = count_row(*b_.reads, kCounts, 3);
    if (!n) return std::unexpected(n.error());
    return MefCounts{(*n)[0], (*n)[1], (*n)[2]};
  });
}

}  // namespace m2msec::store::detail
