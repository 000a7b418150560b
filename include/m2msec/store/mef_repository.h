// m2msec/store/mef_repository.h: what the MEF keeps (enrolees and their
// current enrolment; GBA subscribers and bootstrapping sessions),
// independent of the database behind it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/store/listing.h"
#include "m2msec/store/records.h"

namespace m2msec::store {

// MefRepository is implemented per backend. Every method is thread-safe,
// never throws, and a write returns only after it is durably committed.
class MefRepository {
 public:
  virtual ~MefRepository() = default;

  // add_enrolee inserts one enrolee (validate_enrolee rules). Fails with
  // Errc::already_exists if the enrolee ID or KpmID is taken, or if the
  // cert_subject belongs to another active enrolee.
  virtual Status add_enrolee(const Enrolee& enrolee, std::int64_t now) = 0;

  // import_enrolees inserts all |rows| in one transaction or none. On
  // success returns the count. If any row is invalid or collides (on
  // enrolee ID, KpmID or active cert_subject, with the database or with
  // another row of |rows|), nothing is written, the result is
  // Errc::import_rejected and |out_errors| (if not null) receives one
  // RowError per refused row.
  virtual Result<std::size_t> import_enrolees(std::span<const Enrolee> rows, std::int64_t now,
                                              std::vector<RowError>* out_errors) = 0;

  // get_enrolee returns the enrolee in any state, with Kpm decrypted if
  // present. Errc::not_found, or Errc::decrypt_failed if the Kpm blob does
  // not open.
  virtual Result<Enrolee> get_enrolee(std::string_view enrolee_id) = 0;

  // find_enrolee_by_kpm_id resolves a MEF handshake's psk_identity. Only
  // active enrolees match (Errc::not_found otherwise); one whose expiry is
  // at or before |now| gives Errc::key_expired.
  virtual Result<Enrolee> find_enrolee_by_kpm_id(std::string_view kpm_id, std::int64_t now) = 0;

  // find_enrolee_by_cert_subject resolves a certificate-authenticated MEF
  // handshake by the subject the caller extracted from the validated
  // certificate (exact text match). Only active enrolees match
  // (Errc::not_found otherwise; at most one can, the subject being unique
  // among them); one whose expiry is at or before |now| gives
  // Errc::key_expired. The caller still checks the trust anchor.
  virtual Result<Enrolee> find_enrolee_by_cert_subject(std::string_view subject, std::int64_t now) = 0;

  // list_enrolees returns one page of enrolee summaries (no secrets) in
  // enrolee_id order, filtered by |filter|. Errc::invalid_argument for a
  // bad page limit (see Page); Errc::store_error for a corrupt row.
  virtual Result<std::vector<EnroleeSummary>> list_enrolees(const EnroleeFilter& filter) = 0;

  // counts returns the number of active and removed enrolees and of
  // enrolments (expired ones included until purged), from one snapshot.
  virtual Result<MefCounts> counts() = 0;

  // Every write below that ends an enrolment (remove, revoke, re-target,
  // or a new enrolment replacing the old one) appends a "ke" entry to the
  // revocation log in the same transaction (revocation_log.h), naming the
  // holder of its derived key, so the MAF drops Km and Entity B Kpsa.

  // remove_enrolee marks the enrolee removed, erases its Kpm and deletes
  // its enrolment, so neither its KpmID nor its KeID resolve any more. The
  // KpmID stays reserved. Errc::not_found if absent or already removed.
  virtual Status remove_enrolee(std::string_view enrolee_id) = 0;

  // put_enrolment records an enrolment, atomically replacing the
  // enrolee's previous one (whose KeID then stops resolving). The enrolee
  // must be active and unexpired (Errc::not_found, Errc::key_expired);
  // expires_at must be after |now| and not after the enrolee's expiry
  // (Errc::invalid_argument). Errc::already_exists if the KeID or KpsaID
  // belongs to another enrolment.
  virtual Status put_enrolment(const Enrolment& enrolment, std::int64_t now) = 0;

  // put_enrolment_async is put_enrolment without waiting: |done| receives
  // the same Status once the enrolment is durable (or refused). The
  // default runs the synchronous form; a backend with a write queue
  // overrides it so that no thread waits for the commit.
  virtual void put_enrolment_async(const Enrolment& enrolment, std::int64_t now, Completion done) {
    done(put_enrolment(enrolment, now));
  }

  // find_enrolment looks up by KeID: Errc::not_found, or Errc::key_expired
  // if expires_at <= |now|.
  virtual Result<Enrolment> find_enrolment(std::string_view ke_id, std::int64_t now) = 0;

  // find_enrolment_by_kpsa_id is find_enrolment keyed by KpsaID.
  virtual Result<Enrolment> find_enrolment_by_kpsa_id(std::string_view kpsa_id, std::int64_t now) = 0;

  // remove_enrolment deletes one enrolment. Errc::not_found if absent.
  virtual Status remove_enrolment(std::string_view ke_id) = 0;

  // revoke_enrolment deletes the enrolee's current enrolment, so its KeID
  // (and every key derived from its Ke) stops resolving and the device must
  // enrol again; the enrolee itself stays registered. Errc::not_found if
  // the enrolee has no enrolment.
  virtual Status revoke_enrolment(std::string_view enrolee_id) = 0;

  // retarget_enrolee points an active enrolee at another Enrolment Target
  // (seed 003: a change of Service Provider): its current enrolment, if
  // any, is revoked with the old target named as holder, so the next
  // enrolment yields keys for the new target only. The target is checked
  // as validate_enrolee checks it (Errc::invalid_fqdn,
  // Errc::invalid_identifier); Errc::not_found if the enrolee is absent or
  // removed.
  virtual Status retarget_enrolee(std::string_view enrolee_id, TargetKind kind, std::string_view target,
                                  std::int64_t now) = 0;

  // purge_expired deletes enrolments and GBA bootstrapping sessions with
  // expires_at <= |now| and returns how many rows in all.
  virtual Result<std::size_t> purge_expired(std::int64_t now) = 0;

  // GBA (TS 33.220): the MEF as a BSF. Subscribers hold K and OPc (sealed
  // at rest like every key), the highest SQN issued, and the enrolee and
  // Enrolment Target of their GUSS (TS-0003 8.3.2.3); bootstrapping
  // sessions map a B-TID to Ks. Every write below is durable.

  // add_subscriber inserts one subscriber (validate_gba_subscriber rules:
  // Errc::invalid_identifier for the IMPI or enrolee ID, Errc::invalid_length
  // for K or OPc, Errc::invalid_argument for the SQN, the target as
  // validate_target). Errc::already_exists if the IMPI is taken, or if the
  // enrolee ID already has a subscriber (one IMPI per enrolee), the
  // detail naming which.
  virtual Status add_subscriber(const GbaSubscriber& subscriber, std::int64_t now) = 0;

  // import_subscribers inserts all |rows| in one transaction or none, as
  // import_enrolees does: on success the count; if any row is invalid or
  // its IMPI or enrolee ID is taken (by the database or an earlier row),
  // nothing is written, the result is Errc::import_rejected and
  // |out_errors| (if not null) receives one RowError per refused row.
  virtual Result<std::size_t> import_subscribers(std::span<const GbaSubscriber> rows, std::int64_t now,
                                                 std::vector<RowError>* out_errors) = 0;

  // get_subscriber returns the subscriber with K and OPc decrypted.
  // Errc::not_found, or Errc::decrypt_failed if a blob does not open.
  virtual Result<GbaSubscriber> get_subscriber(std::string_view impi) = 0;

  // list_subscribers returns one page of subscriber summaries (no
  // secrets) in impi order. Errc::invalid_argument for a bad page limit.
  virtual Result<std::vector<GbaSubscriberSummary>> list_subscribers(const Page& page) = 0;

  // remove_subscriber deletes the subscriber and, with it, its
  // bootstrapping sessions. Errc::not_found if absent.
  virtual Status remove_subscriber(std::string_view impi) = 0;

  // advance_sqn reserves the next |step| SQNs of a subscriber for a
  // challenge: in one durable write, sqn += step, and returns the
  // subscriber (K and OPc decrypted) with the new sqn. Concurrent callers,
  // in this process or another on the same database, never get the same
  // SQN. Errc::invalid_argument if |step| is 0 or the SQN would reach
  // kSqnLimit (nothing changes); Errc::not_found; Errc::decrypt_failed.
  virtual Result<GbaSubscriber> advance_sqn(std::string_view impi, std::uint64_t step) = 0;

  // set_sqn records the SQN a resynchronisation (AUTS) revealed: the
  // stored SQN becomes |sqn| if that is greater, else stays (still
  // success). Errc::invalid_argument unless sqn < kSqnLimit;
  // Errc::not_found if the subscriber is absent.
  virtual Status set_sqn(std::string_view impi, std::uint64_t sqn) = 0;

  // put_bootstrap records a bootstrapping session created at |now|
  // (validate_gba_bootstrap rules). Errc::not_found if its IMPI is not a
  // subscriber; Errc::already_exists if the B-TID is taken.
  virtual Status put_bootstrap(const GbaBootstrap& bootstrap, std::int64_t now) = 0;

  // find_bootstrap looks up by B-TID, Ks decrypted: Errc::not_found, or
  // Errc::key_expired if expires_at <= |now| (checked before decrypting);
  // Errc::decrypt_failed.
  virtual Result<GbaBootstrap> find_bootstrap(std::string_view b_tid, std::int64_t now) = 0;
};

}  // namespace m2msec::store
