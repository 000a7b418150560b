// m2msec/tls/identity.h: who the peer is, and TS-0003 certificate checks.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/encoding.h"
#include "m2msec/core/error.h"
#include "m2msec/tls/profile.h"

namespace m2msec::tls {

// AnchorRole says which of a listener's anchor sets ended a peer's
// verified chain (TS-0003 8.1.2; issue 11 item 3, "trust is per role"):
// infrastructure anchors vouch for MEF, MAF and Entity B certificates,
// device anchors for enrolee and Entity A certificates. none: no verified
// chain, or the anchor is in no set (a client's own view of a server).
enum class AnchorRole { none, infrastructure, device };

// anchor_role_name returns "none", "infrastructure" or "device".
std::string_view anchor_role_name(AnchorRole role);

// PeerIdentity is what the handshake authenticated about the peer.
struct PeerIdentity {
  // none: the client was not authenticated (certificate suite without a
  // client certificate).
  enum class Kind { none, psk, certificate };
  Kind kind = Kind::none;
  std::string psk_identity;            // kind == psk: the TLS psk_identity
  std::vector<std::string> san_uris;   // kind == certificate: SAN URIs (AE-IDs)
  std::vector<std::string> dns_names;  // kind == certificate: SAN dNSNames (CSE-ID, FQDN)
  // kind == certificate: the anchor certificate ending the verified chain,
  // as certificate_fingerprint() ("sha256:<64 lowercase hex>" of its DER),
  // its subject CN (for logs only; never compared), and the anchor set it
  // was found in (server side; AnchorRole::none on the client side).
  std::string trust_anchor;
  std::string trust_anchor_cn;
  AnchorRole anchor_role = AnchorRole::none;
  std::string sni;                     // the SNI host name the client sent ("" if none)
  std::string cipher;                  // negotiated suite, OpenSSL name
  Transport transport = Transport::tls;  // TLS over TCP or DTLS over UDP
  // address is the peer's IP address as text, without port or brackets
  // ("192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address in its IPv4
  // form), server side only; "" if unknown. For access control contexts
  // (TS-0003 7.1: rq_ip), never for authentication.
  std::string address;
};

// ExpectedName is the name a peer certificate must carry (TS-0003 clause
// 8.1.2.1): an FQDN (MEF, MAF, the public domain name of a CSE-ID) in a
// dNSName, or an AE-ID in its full URI form in a URI name.
struct ExpectedName {
  enum class Kind { fqdn, uri };
  Kind kind = Kind::fqdn;
  std::string value;
};

// check_certificate_profile applies the clause 10.1.1 leaf rules that path
// validation does not: a P-256 (secp256r1) public key, a keyUsage extension
// including digitalSignature, and no wildcard in any SAN entry. Fails with
// Errc::certificate_rejected; the detail names the rule. |cert| is borrowed.
Status check_certificate_profile(X509* cert);

// check_peer_name tests whether |cert| carries |expected|: an FQDN matches
// a dNSName SAN case-insensitively and exactly (no wildcards, no CN
// fallback); a URI matches a URI SAN byte for byte. Fails with
// Errc::peer_name_mismatch, or Errc::invalid_fqdn for a malformed expected
// FQDN. |cert| is borrowed.
Status check_peer_name(X509* cert, const ExpectedName& expected);

// certificate_fingerprint returns "sha256:" followed by the 64 lowercase
// hex digits of SHA-256 over |cert|'s DER encoding (what "openssl x509
// -noout -fingerprint -sha256" prints, without colons, lower case); ""
// if |cert| cannot be encoded. |cert| is borrowed.
std::string certificate_fingerprint(X509* cert);

// is_certificate_fingerprint (core/encoding.h) checks the form.
using ::m2msec::is_certificate_fingerprint;

// certificate_names fills |out_uris| and |out_dns| with the URI and
// dNSName SAN entries of |cert| (borrowed), in certificate order.
void certificate_names(X509* cert, std::vector<std::string>& out_uris, std::vector<std::string>& out_dns);

}  // namespace m2msec::tls
