#include "m2msec/tls/credentials.h"

#include <openssl/pem.h>

#include <cstdio>
#include <memory>

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

}  // namespace

Result<std::shared_ptr<const CertificateKey>> load_certificate_key(const std::string& cert_pem_path,
                                                                   const std::string& key_pem_path,
                                                                   bool enforce_profile) {
  auto cert_bio = open_file(cert_pem_path);
  if (!cert_bio) return std::unexpected(cert_bio.error());
  auto key_bio = open_file(key_pem_path);
  if (!key_bio) return std::unexpected(key_bio.error());

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
  out->key.reset(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
  if (!out->key) {
    ossl_error_string();
    return fail(Errc::invalid_credentials, "no private key in " + key_pem_path);
  }
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
