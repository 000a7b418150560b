// resources.h (private): the resource types the CSE serves, their parent
// and child rules and their attributes in the TS-0004 JSON serialisation
// (short names: "rn" resourceName, "acpi" accessControlPolicyIDs, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "m2msec/authz/authz.h"
#include "m2msec/core/error.h"
#include "m2msec/cse/cse.h"

namespace m2msec::cse {

// TS-0004 m2m:resourceType.
inline constexpr int kAccessControlPolicy = 1;
inline constexpr int kAe = 2;
inline constexpr int kContainer = 3;
inline constexpr int kContentInstance = 4;
inline constexpr int kCseBase = 5;
inline constexpr int kGroup = 9;

// cse_ri is the CSEBase's resourceID: the CSE-ID without its '/'.
std::string cse_ri(const Settings& s);

bool is_served_type(int ty);
// may_be_child: TS-0001 9.6 resource type tables (the types served here):
// CSEBase: AE, container, ACP, group; AE: container, ACP, group;
// container: container, contentInstance.
bool may_be_child(int parent_ty, int child_ty);
// has_acpi_attribute: every served type but the ACP and the
// contentInstance (governed by its parent).
bool has_acpi_attribute(int ty);
// is_updatable: the contentInstance and the CSEBase are not.
bool is_updatable(int ty);
// target_of: an <accessControlPolicy> addressed itself is governed by its
// selfPrivileges, everything else by privileges (TS-0003 7.1.1).
authz::Target target_of(int ty);
// type_wrapper: "m2m:ae", "m2m:cnt", ...
std::string_view type_wrapper(int ty);
// type_prefix: the prefix of generated resource IDs ("cnt", "cin", ...).
std::string_view type_prefix(int ty);

// make_resource reads a CREATE content {"<wrapper>": {...}} for type |ty|
// and returns the new resource's attributes: the ones the originator may
// give (checked by type, size and range), plus ty, ct, lt, cr (the
// creator, |creator|) and what the type computes (AE: aei; contentInstance:
// cs, st). No ri/pi yet. Errc::malformed_message for a wrong wrapper, an
// unknown or read-only attribute or a wrong type; Errc::invalid_argument
// for a value out of range; Errc::invalid_length for content too large.
Result<nlohmann::json> make_resource(int ty, const nlohmann::json& content, const std::string& creator,
                                     std::int64_t now);

// apply_update returns |current| with |changes| (the object under the
// wrapper) applied: only the attributes an UPDATE may change (not acpi,
// handled by the caller), checked as make_resource checks them; lt set
// to |now|. A null value removes an optional attribute.
Result<nlohmann::json> apply_update(int ty, const nlohmann::json& current, const nlohmann::json& changes,
                                    std::int64_t now);

// cse_base_representation is {"m2m:cb": {...}}.
nlohmann::json cse_base_representation(const Settings& s, std::int64_t created_at);

}  // namespace m2msec::cse
