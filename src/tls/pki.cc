#include "m2msec/tls/pki.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "m2msec/tls/ossl.h"
#include "internal.h"

namespace m2msec::tls {
namespace {

struct FileCloser {
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Result<File> open_for_write(const std::string& path, bool secret) {
  File f(std::fopen(path.c_str(), "wx"));
  if (!f) return fail(Errc::io_error, path + ": cannot create");
  if (secret && ::chmod(path.c_str(), 0600) != 0) return fail(Errc::io_error, path + ": chmod");
  return f;
}

Result<UniquePtr<EVP_PKEY>> new_key() {
  UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return fail(Errc::invalid_credentials, "P-256 key generation failed: " + ossl_error_string());
  return key;
}

Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  UniquePtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return fail(Errc::invalid_credentials, "extension " + value + ": " + ossl_error_string());
  }
  return {};
}

// make_cert builds and signs one certificate. |issuer|/|issuer_key| null
// means self-signed.
Result<UniquePtr<X509>> make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, int days,
                                  bool ca, const std::string& san) {
  UniquePtr<X509> cert(X509_new());
  if (!cert) return fail(Errc::invalid_credentials, "X509_new");
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  UniquePtr<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return fail(Errc::invalid_credentials, "serial number");
  }
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("m2msec demo"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : cert.get();
  Status st = add_ext(cert.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE");
  if (st) st = add_ext(cert.get(), iss, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (st) st = add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
  if (st && issuer) st = add_ext(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  if (st && !san.empty()) st = add_ext(cert.get(), iss, NID_subject_alt_name, san);
  if (!st) return std::unexpected(st.error());
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) {
    return fail(Errc::invalid_credentials, "signing failed: " + ossl_error_string());
  }
  return cert;
}

Status write_pair(const std::string& stem, X509* cert, EVP_PKEY* key) {
  auto kf = open_for_write(stem + ".key", true);
  if (!kf) return std::unexpected(kf.error());
  if (PEM_write_PrivateKey(kf->get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(Errc::io_error, stem + ".key: write failed");
  }
  auto cf = open_for_write(stem + ".crt", false);
  if (!cf) return std::unexpected(cf.error());
  if (PEM_write_X509(cf->get(), cert) != 1) return fail(Errc::io_error, stem + ".crt: write failed");
  return {};
}

Result<std::pair<UniquePtr<X509>, UniquePtr<EVP_PKEY>>> load_ca(const std::string& dir, const std::string& ca) {
  File cf(std::fopen((dir + "/" + ca + ".crt").c_str(), "r"));
  UniquePtr<BIO> kf(BIO_new_file((dir + "/" + ca + ".key").c_str(), "r"));
  if (!cf || !kf) {
    ossl_error_string();
    return fail(Errc::io_error, dir + "/" + ca + ".crt or " + ca + ".key missing");
  }
  UniquePtr<X509> cert(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
  UniquePtr<EVP_PKEY> key = detail::read_pem_private_key(kf.get(), detail::key_type_of(cert.get()));
  if (!cert || !key) return fail(Errc::invalid_credentials, dir + ": unreadable CA");
  return std::pair{std::move(cert), std::move(key)};
}

}  // namespace

Status ensure_ca(const std::string& dir, const std::string& ca_name, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io_error, dir + ": " + ec.message());
  const std::string base = dir + "/" + stem;
  const bool crt = std::filesystem::exists(base + ".crt"), key = std::filesystem::exists(base + ".key");
  if (crt && key) return {};
  if (crt != key) return fail(Errc::invalid_credentials, dir + ": only one of " + stem + ".crt and " + stem + ".key exists");
  auto k = new_key();
  if (!k) return std::unexpected(k.error());
  auto c = make_cert(k->get(), ca_name, nullptr, nullptr, 3650, true, "");
  if (!c) return std::unexpected(c.error());
  return write_pair(base, c->get(), k->get());
}

Result<bool> issue_leaf(const std::string& dir, const LeafSpec& spec) {
  const std::string stem = dir + "/" + spec.name;
  if (std::filesystem::exists(stem + ".crt") && std::filesystem::exists(stem + ".key")) return false;
  auto ca = load_ca(dir, spec.ca);
  if (!ca) return std::unexpected(ca.error());
  std::string san;
  // Appends, not operator+: GCC 12 at -O3 warns falsely (-Wrestrict) on
  // the concatenation.
  auto add_san = [&san](const char* kind, const std::string& value) {
    if (!san.empty()) san.push_back(',');
    san.append(kind);
    san.append(value);
  };
  for (const auto& d : spec.dns_names) add_san("DNS:", d);
  for (const auto& u : spec.uris) add_san("URI:", u);
  if (san.empty()) return fail(Errc::invalid_argument, "a leaf needs at least one SAN");
  auto k = new_key();
  if (!k) return std::unexpected(k.error());
  const std::string cn = !spec.dns_names.empty() ? spec.dns_names.front() : spec.uris.front();
  auto c = make_cert(k->get(), cn, ca->first.get(), ca->second.get(), spec.days, false, san);
  if (!c) return std::unexpected(c.error());
  std::filesystem::remove(stem + ".crt");
  std::filesystem::remove(stem + ".key");
  if (auto st = write_pair(stem, c->get(), k->get()); !st) return std::unexpected(st.error());
  return true;
}

}  // namespace m2msec::tls
