// sql_mef.h (private): MefRepository over the SQL interface (tables enrolees and
// enrolments; gba_subscribers and gba_bootstraps).
#pragma once

#include "m2msec/store/mef_repository.h"
#include "sql_backend.h"

namespace m2msec::store::detail {

class SqlMefRepository final : public MefRepository {
 public:
  explicit SqlMefRepository(Backend backend) : b_(backend) {}

  Status add_enrolee(const Enrolee& enrolee, std::int64_t now) override;
  Result<std::size_t> import_enrolees(std::span<const Enrolee> rows, std::int64_t now,
                                      std::vector<RowError>* out_errors) override;
  Result<Enrolee> get_enrolee(std::string_view enrolee_id) override;
  Result<Enrolee> find_enrolee_by_kpm_id(std::string_view kpm_id, std::int64_t now) override;
  Result<Enrolee> find_enrolee_by_cert_subject(std::string_view subject, std::int64_t now) override;
  Status remove_enrolee(std::string_view enrolee_id) override;
  Status put_enrolment(const Enrolment& enrolment, std::int64_t now) override;
  void put_enrolment_async(const Enrolment& enrolment, std::int64_t now, Completion done) override;
  Result<Enrolment> find_enrolment(std::string_view ke_id, std::int64_t now) override;
  Result<Enrolment> find_enrolment_by_kpsa_id(std::string_view kpsa_id, std::int64_t now) override;
  Status revoke_enrolment(std::string_view enrolee_id) override;
  Status retarget_enrolee(std::string_view enrolee_id, TargetKind kind, std::string_view target,
                          std::int64_t now) override;
  Status remove_enrolment(std::string_view ke_id) override;
  Result<std::size_t> purge_expired(std::int64_t now) override;
  // list_enrolees and counts live in sql_mef_list.cc.
  Result<std::vector<EnroleeSummary>> list_enrolees(const EnroleeFilter& filter) override;
  Result<MefCounts> counts() override;
  // The GBA subscribers and bootstrapping sessions live in sql_gba.cc.
  Status add_subscriber(const GbaSubscriber& subscriber, std::int64_t now) override;
  Result<std::size_t> import_subscribers(std::span<const GbaSubscriber> rows, std::int64_t now,
                                         std::vector<RowError>* out_errors) override;
  Result<GbaSubscriber> get_subscriber(std::string_view impi) override;
  Result<std::vector<GbaSubscriberSummary>> list_subscribers(const Page& page) override;
  Status remove_subscriber(std::string_view impi) override;
  Result<GbaSubscriber> advance_sqn(std::string_view impi, std::uint64_t step) override;
  Status set_sqn(std::string_view impi, std::uint64_t sqn) override;
  Status put_bootstrap(const GbaBootstrap& bootstrap, std::int64_t now) override;
  Result<GbaBootstrap> find_bootstrap(std::string_view b_tid, std::int64_t now) override;

 private:
  // read_enrolee reads the row whose |where_column| equals |value|
  // (Errc::not_found if none; with |active_only|, removed rows do not
  // count) and decrypts its Kpm (Errc::decrypt_failed).
  Result<Enrolee> read_enrolee(std::string_view where_column, std::string_view value, bool active_only = false);
  // enrolment_op checks and seals |e| and returns the write that stores it.
  Result<WriteOp> enrolment_op(const Enrolment& e, std::int64_t now);
  Result<Enrolment> read_enrolment(std::string_view where_column, std::string_view value, std::int64_t now);

  Backend b_;
};

}  // namespace m2msec::store::detail
