// sqlite_maf.h (private): MafRepository over SQLite (tables maf_clients,
// kc_keys and kc_targets).
#pragma once

#include "m2msec/store/maf_repository.h"
#include "sqlite_backend.h"

namespace m2msec::store::detail {

class SqliteMafRepository final : public MafRepository {
 public:
  explicit SqliteMafRepository(Backend backend) : b_(backend) {}

  Status register_client(const MafClient& client, std::int64_t now) override;
  Result<MafClient> find_client(std::string_view km_id, std::int64_t now) override;
  Status deregister_client(std::string_view km_id) override;
  Status register_kc(const KcKey& key, std::int64_t now) override;
  Result<KcKey> find_kc(std::string_view kc_id, std::int64_t now) override;
  Status update_kc(std::string_view kc_id, std::int64_t expires_at, std::span<const std::string> targets) override;
  Status deregister_kc(std::string_view kc_id) override;
  Result<std::size_t> purge_expired(std::int64_t now) override;

 private:
  Backend b_;
};

}  // namespace m2msec::store::detail
