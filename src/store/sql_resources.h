// sql_resources.h (private): ResourceRepository over the SQL interface
// (table cse_resources, schema version 8).
#pragma once

#include "m2msec/store/resource_repository.h"
#include "sql_backend.h"

namespace m2msec::store::detail {

class SqlResourceRepository final : public ResourceRepository {
 public:
  explicit SqlResourceRepository(Backend backend) : b_(backend) {}

  Status create(const ResourceRecord& r) override;
  Result<ResourceRecord> get(std::string_view ri) override;
  Result<ResourceRecord> child(std::string_view pi, std::string_view rn) override;
  Result<std::vector<ResourceRecord>> children(std::string_view pi, int ty, std::size_t limit) override;
  Result<std::size_t> count_children(std::string_view pi, int ty) override;
  Status update(std::string_view ri, std::string_view attributes) override;
  Result<bool> replace(std::string_view ri, std::string_view expected, std::string_view attributes) override;
  Result<std::size_t> remove(std::string_view ri) override;
  Result<std::string> remove_oldest_child(std::string_view pi, int ty) override;

 private:
  Backend b_;
};

}  // namespace m2msec::store::detail
