// m2msec/store/maf_repository.h: what the MAF keeps (the seeds' MAS): client
// registrations with their Km, and registered Kc keys with their targets.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/store/listing.h"
#include "m2msec/store/records.h"
#include "m2msec/store/revocation_log.h"

namespace m2msec::store {

// MafRepository is implemented per backend. Every method is thread-safe,
// never throws, and a write returns only after it is durably committed.
// kAnyExpiry, as the |now| of a lookup, finds a row whatever its expiry.
inline constexpr std::int64_t kAnyExpiry = std::numeric_limits<std::int64_t>::min();

class MafRepository {
 public:
  virtual ~MafRepository() = default;

  // register_client stores a client registration. A registration for an
  // entity that already has one replaces it (new KmID and Km; the old KmID
  // stops resolving; the entity's Kc keys stay). Errc::already_exists if
  // the KmID belongs to another entity; Errc::invalid_identifier if the
  // KmID is not canonical; Errc::invalid_argument for an empty Km or entity.
  // A replacement without an app_id keeps the one stored (the App-ID
  // belongs to the AE, not to its key).
  virtual Status register_client(const MafClient& client, std::int64_t now) = 0;

  // register_client_async is register_client without waiting: |done|
  // receives the same Status once the row is durably committed (or
  // refused), so that several registrations share one commit. Default:
  // the synchronous form.
  virtual void register_client_async(const MafClient& client, std::int64_t now, Completion done) {
    done(register_client(client, now));
  }

  // add_clients inserts pre-provisioned (or any) registrations, all in one
  // transaction or none, and never replaces one: a KmID or an entity that
  // already has a registration (in the database or in an earlier row of
  // |rows|) is refused with Errc::already_exists naming what collides.
  // Rows are checked as register_client checks them, plus check_app_id
  // and "an App-ID only for an AE-ID". On any refusal nothing is written,
  // the result is Errc::import_rejected (or the row's own error when
  // |rows| holds one row) and |out_errors| (if not null) receives one
  // RowError per refused row. On success returns the count.
  virtual Result<std::size_t> add_clients(std::span<const MafClient> rows, std::int64_t now,
                                          std::vector<RowError>* out_errors) = 0;

  // find_client resolves a MAF handshake's KmID: Errc::not_found, or
  // Errc::key_expired if expires_at <= |now|.
  virtual Result<MafClient> find_client(std::string_view km_id, std::int64_t now) = 0;

  // find_client_by_entity is find_client keyed by the client's entity ID
  // (Errc::not_found, Errc::key_expired).
  virtual Result<MafClient> find_client_by_entity(std::string_view entity_id, std::int64_t now) = 0;

  // deregister_client deletes the registration and every Kc key the entity
  // registered. Errc::not_found if absent.
  virtual Status deregister_client(std::string_view km_id) = 0;

  // revoke_client revokes the Km |entry|.key_id names (kind km): it
  // deletes the registration, if there is one, with every Kc key of the
  // entity, and appends |entry| to the revocation log (its entity and
  // expiry taken from the registration when there is one; a Km with no
  // expiry is remembered for ever), all in one transaction. The entry stays
  // after the registration is gone, so RevocationLog::is_revoked keeps the
  // MAF from fetching that Km again. Returns whether a registration
  // existed. Errc::invalid_identifier for a non-canonical KmID.
  virtual Result<bool> revoke_client(const Revocation& entry, std::int64_t now) = 0;

  // revoke_clients is revoke_client for every entry of |entries| in one
  // transaction (one commit however many: a MEF's feed page at once), all
  // or none. Returns how many registrations existed.
  virtual Result<std::size_t> revoke_clients(std::span<const Revocation> entries, std::int64_t now) = 0;

  // revoke_kc deletes a key registration and logs a kc entry (an
  // operator's revocation, unlike deregister_kc, which is a connection
  // ending). Errc::not_found if absent.
  virtual Status revoke_kc(std::string_view kc_id, std::int64_t now) = 0;

  // register_kc stores a key registration. Entity A must be a registered
  // client (Errc::not_found); expires_at must be after |now|
  // (Errc::invalid_argument); Errc::already_exists for a taken KcID.
  virtual Status register_kc(const KcKey& key, std::int64_t now) = 0;

  // register_kc_async is register_kc without waiting: |done| receives the
  // same Status once the row is committed (or refused). Default: the
  // synchronous form.
  virtual void register_kc_async(const KcKey& key, std::int64_t now, Completion done) {
    done(register_kc(key, now));
  }

  // find_kc is the only Kc lookup: by KcID, with Errc::key_expired if
  // expires_at <= |now| (pass kAnyExpiry to find the row whatever its
  // expiry, as de-registration does). The caller checks that the requester
  // is among targets.
  virtual Result<KcKey> find_kc(std::string_view kc_id, std::int64_t now) = 0;

  // update_kc replaces the expiry and target list (Key Registration
  // Update). Errc::not_found if absent.
  virtual Status update_kc(std::string_view kc_id, std::int64_t expires_at,
                           std::span<const std::string> targets) = 0;

  // deregister_kc deletes a key registration. Errc::not_found if absent.
  virtual Status deregister_kc(std::string_view kc_id) = 0;

  // deregister_kc_async is deregister_kc without waiting (see
  // register_kc_async).
  virtual void deregister_kc_async(std::string_view kc_id, Completion done) { done(deregister_kc(kc_id)); }

  // Kc holders (docs/protocol.md, MAF Key Retrieval and De-Registration):
  // with Entity B run as replicas, one Kc may be held by several Entity B
  // processes, and de-registration is decided per key, not per process.
  //
  // hold_kc records that |holder| holds the key, so that the key outlives
  // the de-registration of another holder. Errc::not_found if the key is
  // absent. Committed with relaxed durability, like the key itself.
  virtual Status hold_kc(std::string_view kc_id, std::string_view holder) = 0;
  virtual void hold_kc_async(std::string_view kc_id, std::string_view holder, Completion done) {
    done(hold_kc(kc_id, holder));
  }
  // release_kc is one holder's de-registration: |holder|'s hold goes, and
  // the key goes only if no other holder still holds it (also when nobody
  // ever held it). Returns whether the key went; Errc::not_found if the key
  // is absent.
  virtual Result<bool> release_kc(std::string_view kc_id, std::string_view holder) = 0;
  virtual void release_kc_async(std::string_view kc_id, std::string_view holder, Completion done) {
    auto r = release_kc(kc_id, holder);
    done(r ? Status() : Status(std::unexpected(r.error())));
  }

  // purge_expired deletes Kc keys and client registrations whose expiry is
  // at or before |now|, returning how many rows went.
  virtual Result<std::size_t> purge_expired(std::int64_t now) = 0;

  // list_clients returns one page of client summaries (no Km) in
  // entity_id order. Errc::invalid_argument for a bad page limit (see
  // Page); Errc::store_error for a corrupt row.
  virtual Result<std::vector<MafClientSummary>> list_clients(const Page& page) = 0;

  // list_kc returns one page of Kc summaries (no Kc) in kc_id order, each
  // with its sorted targets, from one snapshot. Errc::invalid_argument for
  // a bad page limit (see Page).
  virtual Result<std::vector<KcSummary>> list_kc(const Page& page) = 0;

  // counts returns the number of client registrations and of Kc keys
  // (expired ones included until purged), from one snapshot.
  virtual Result<MafCounts> counts() = 0;
};

}  // namespace m2msec::store
