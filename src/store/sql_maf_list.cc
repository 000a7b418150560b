// sql_maf_list.cc: the operator side of SqlMafRepository (listing
// and counts). Nothing here selects a secret column (km, kc).
#include "sql_maf.h"

namespace m2msec::store::detail {
namespace {

constexpr std::string_view kListClients =
    "SELECT km_id, entity_id, source, expires_at, registered_at, app_id FROM maf_clients "
    "WHERE entity_id > ?1 ORDER BY entity_id LIMIT ?2";

// kListKc limits the keys first, then joins their targets, so LIMIT
// counts keys; one statement reads keys and targets from one snapshot.
constexpr std::string_view kListKc =
    "SELECT k.kc_id, k.entity_a_id, k.expires_at, k.created_at, t.target_id "
    "FROM (SELECT kc_id, entity_a_id, expires_at, created_at FROM kc_keys "
    "      WHERE kc_id > ?1 ORDER BY kc_id LIMIT ?2) AS k "
    "LEFT JOIN kc_targets AS t ON t.kc_id = k.kc_id ORDER BY k.kc_id, t.target_id";

constexpr std::string_view kCounts = "SELECT (SELECT count(*) FROM maf_clients), (SELECT count(*) FROM kc_keys)";

// decode_client reads one kListClients row. Errc::store_error if the
// source column holds an unknown name.
Result<MafClientSummary> decode_client(const Stmt& s) {
  Result<KmSource> source = parse_km_source(s.column_text(2));
  if (!source) return fail(Errc::store_error, "corrupt maf_clients row " + s.column_text(0));
  return MafClientSummary{s.column_text(0), s.column_text(1), *source, s.column_optional_int64(3),
                          s.column_int64(4), s.column_optional_text(5)};
}

// fold_kc_rows turns kListKc rows (one per key and target, keys in order)
// into one summary per key.
Result<std::vector<KcSummary>> fold_kc_rows(Stmt& s) {
  std::vector<KcSummary> out;
  while (true) {
    Result<bool> row = s.step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    const std::string kc_id = s.column_text(0);
    if (out.empty() || out.back().kc_id != kc_id) {
      out.push_back(KcSummary{kc_id, s.column_text(1), {}, s.column_int64(2), s.column_int64(3)});
    }
    if (!s.is_null(4)) out.back().targets.push_back(s.column_text(4));
  }
}

}  // namespace

Result<std::vector<MafClientSummary>> SqlMafRepository::list_clients(const Page& page) {
  return guarded([&]() -> Result<std::vector<MafClientSummary>> {
    Status st = check_page(page);
    if (!st) return std::unexpected(st.error());
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = prepare_page(lease.conn(), kListClients, page);
    if (!s) return std::unexpected(s.error());
    return collect<MafClientSummary>(*s, decode_client);
  });
}

Result<std::vector<KcSummary>> SqlMafRepository::list_kc(const Page& page) {
  return guarded([&]() -> Result<std::vector<KcSummary>> {
    Status st = check_page(page);
    if (!st) return std::unexpected(st.error());
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = prepare_page(lease.conn(), kListKc, page);
    if (!s) return std::unexpected(s.error());
    return fold_kc_rows(*s);
  });
}

Result<MafCounts> SqlMafRepository::counts() {
  return guarded([&]() -> Result<MafCounts> {
    Result<std::vector<std::uint64_t>> n = count_row(*b_.reads, kCounts, 2);
    if (!n) return std::unexpected(n.error());
    return MafCounts{(*n)[0], (*n)[1]};
  });
}

}  // namespace m2msec::store::detail
