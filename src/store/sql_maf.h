// sql_maf.h (private): MafRepository over the SQL interface (tables maf_clients,
// kc_keys and kc_targets).
#pragma once

#include "m2msec/store/maf_repository.h"
#include "sql_backend.h"

namespace m2msec::store::detail {

class SqlMafRepository final : public MafRepository {
 public:
  explicit SqlMafRepository(Backend backend) : b_(backend) {}

  Status register_client(const MafClient& client, std::int64_t now) override;
  void register_client_async(const MafClient& client, std::int64_t now, Completion done) override;
  Result<std::size_t> add_clients(std::span<const MafClient> rows, std::int64_t now,
                                  std::vector<RowError>* out_errors) override;
  Result<MafClient> find_client(std::string_view km_id, std::int64_t now) override;
  Result<MafClient> find_client_by_entity(std::string_view entity_id, std::int64_t now) override;
  Status deregister_client(std::string_view km_id) override;
  Result<bool> revoke_client(const Revocation& entry, std::int64_t now) override;
  Result<std::size_t> revoke_clients(std::span<const Revocation> entries, std::int64_t now) override;
  Status revoke_kc(std::string_view kc_id, std::int64_t now) override;
  Status register_kc(const KcKey& key, std::int64_t now) override;
  void register_kc_async(const KcKey& key, std::int64_t now, Completion done) override;
  Result<KcKey> find_kc(std::string_view kc_id, std::int64_t now) override;
  Status update_kc(std::string_view kc_id, std::int64_t expires_at, std::span<const std::string> targets) override;
  Status deregister_kc(std::string_view kc_id) override;
  void deregister_kc_async(std::string_view kc_id, Completion done) override;
  Status hold_kc(std::string_view kc_id, std::string_view holder) override;
  void hold_kc_async(std::string_view kc_id, std::string_view holder, Completion done) override;
  Result<bool> release_kc(std::string_view kc_id, std::string_view holder) override;
  void release_kc_async(std::string_view kc_id, std::string_view holder, Completion done) override;
  Result<std::size_t> purge_expired(std::int64_t now) override;
  // list_clients, list_kc and counts live in sql_maf_list.cc.
  Result<std::vector<MafClientSummary>> list_clients(const Page& page) override;
  Result<std::vector<KcSummary>> list_kc(const Page& page) override;
  Result<MafCounts> counts() override;

 private:
  // read_client reads the registration whose |where_column| (km_id or
  // entity_id) equals |value|: Errc::not_found, Errc::key_expired (checked
  // before decrypting), Errc::store_error for a corrupt row, or
  // Errc::decrypt_failed.
  Result<MafClient> read_client(std::string_view where_column, std::string_view value, std::int64_t now);

  Backend b_;
};

}  // namespace m2msec::store::detail
