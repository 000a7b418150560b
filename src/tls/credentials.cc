#include "m2msec/tls/credentials.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "m2msec/core/secret_file.h"
#include "m2msec/tls/identity.h"

namespace m2msec::tls {
namespace {

Result<UniquePtr<BIO>> open_file(const std::string& path) {
  UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ossl_error_string();
    return fail(Errc::io_error, path);
  }
  return bio;
}

// read_private_key reads a PEM private key from a file that only its owner
// may access. Fails with Errc::insecure_permissions (the detail names the
// mode and the fix), Errc::io_error, or Errc::invalid_credentials.
Result<UniquePtr<EVP_PKEY>> read_private_key(const std::string& path) {
  Result<SecretString> pem = read_secret_file(path);
  if (!pem && pem.error().code() == Errc::insecure_permissions) {
    struct stat st {};
    char mode[8] = "?";
    if (::stat(path.c_str(), &st) == 0) std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777u);
    return fail(Errc::insecure_permissions,
                "private key " + path + " has mode " + mode + "; run chmod 600 " + path);
  }
  if (!pem) return std::unexpected(pem.error());
  UniquePtr<BIO> bio(BIO_new_mem_buf(pem->view().data(), static_cast<int>(pem->size())));
  if (!bio) return fail(Errc::invalid_credentials, "out of memory");
  UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ossl_error_string();
    return fail(Errc::invalid_credentials, "no private key in " + path);
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const CertificateKey>> load_certificate_key(const std::string& cert_pem_path,
                                                                   const std::string& key_pem_path,
                                                                   bool enforce_profile) {
  auto cert_bio = open_file(cert_pem_path);
  if (!cert_bio) return std::unexpected(cert_bio.error());

  auto out = std::make_shared<CertificateKey>();
  out->leaf.reset(PEM_read_bio_X509(cert_bio->get(), nullptr, nullptr, nullptr));
  if (!out->leaf) {
    ossl_error_string();
    return fail(Errc::invalid_credentials, "no certificate in " + cert_pem_path);
  }
  out->chain.reset(sk_X509_new_null());
  while (X509* extra = PEM_read_bio_X509(cert_bio->get(), nullptr, nullptr, nullptr)) {
    if (sk_X509_push(out->chain.get(), extra) <= 0) {
      UniquePtr<X509> drop(extra);
      return fail(Errc::invalid_credentials, "out of memory");
    }
  }
  ossl_error_string();  // the loop ends on "no start line"
  auto key = read_private_key(key_pem_path);
  if (!key) return std::unexpected(key.error());
  out->key = std::move(*key);
  if (X509_check_private_key(out->leaf.get(), out->key.get()) != 1) {
    ossl_error_string();
    return fail(Errc::invalid_credentials, "private key does not match the certificate");
  }
  if (Status profile = check_certificate_profile(out->leaf.get()); enforce_profile && !profile) {
    return fail(Errc::invalid_credentials, profile.error().detail());
  }
  return std::shared_ptr<const CertificateKey>(std::move(out));
}

Result<std::shared_ptr<const TrustAnchors>> load_trust_anchors(const std::string& ca_pem_path) {
  auto bio = open_file(ca_pem_path);
  if (!bio) return std::unexpected(bio.error());
  auto out = std::make_shared<TrustAnchors>();
  out->store.reset(X509_STORE_new());
  if (!out->store) return fail(Errc::invalid_credentials, "out of memory");
  int count = 0;
  while (X509* raw = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
    UniquePtr<X509> cert(raw);
    if (X509_STORE_add_cert(out->store.get(), cert.get()) != 1) {
      ossl_error_string();
      return fail(Errc::invalid_credentials, "cannot add trust anchor");
    }
    ++count;
  }
  ossl_error_string();
  if (count == 0) return fail(Errc::invalid_credentials, "no certificate in " + ca_pem_path);
  return std::shared_ptr<const TrustAnchors>(std::move(out));
}

}  // namespace m2msec::tls
