#include "m2msec/tls/credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "m2msec/core/secret_file.h"
#include "m2msec/tls/identity.h"
#include "internal.h"

namespace m2msec::tls {

UniquePtr<EVP_PKEY> detail::read_pem_private_key(BIO* bio, const char* key_type) {
  if (key_type != nullptr) {
    EVP_PKEY* raw = nullptr;  // the decoder's output, set only on success
    UniquePtr<OSSL_DECODER_CTX> dctx(
        OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, key_type, EVP_PKEY_KEYPAIR, nullptr, nullptr));
    const bool decoded = dctx && OSSL_DECODER_from_bio(dctx.get(), bio) == 1;
    UniquePtr<EVP_PKEY> key(raw);
    if (decoded && key) return key;
    ERR_clear_error();
    if (BIO_reset(bio) < 0) return nullptr;
  }
  return UniquePtr<EVP_PKEY>(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
}

const char* detail::key_type_of(const X509* cert) {
  const EVP_PKEY* pub = cert == nullptr ? nullptr : X509_get0_pubkey(cert);
  return pub == nullptr ? nullptr : EVP_PKEY_get0_type_name(pub);
}

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
// may access; |key_type| as for detail::read_pem_private_key. Fails with
// Errc::insecure_permissions (the detail names the mode and the fix),
// Errc::io_error, or Errc::invalid_credentials.
Result<UniquePtr<EVP_PKEY>> read_private_key(const std::string& path, const char* key_type) {
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
  UniquePtr<EVP_PKEY> key = detail::read_pem_private_key(bio.get(), key_type);
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
  auto key = read_private_key(key_pem_path, detail::key_type_of(out->leaf.get()));
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

AnchorRole TrustAnchors::role_of(std::string_view fingerprint) const {
  auto it = roles.find(fingerprint);
  return it == roles.end() ? AnchorRole::none : it->second;
}

namespace {

// read_certificates returns every certificate of a PEM file. Fails with
// Errc::io_error or Errc::invalid_credentials (no certificate).
Result<std::vector<UniquePtr<X509>>> read_certificates(const std::string& path) {
  auto bio = open_file(path);
  if (!bio) return std::unexpected(bio.error());
  std::vector<UniquePtr<X509>> out;
  while (X509* raw = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) out.emplace_back(raw);
  ossl_error_string();  // the loop ends on "no start line"
  if (out.empty()) return fail(Errc::invalid_credentials, "no certificate in " + path);
  return out;
}

// add_anchors adds the certificates of |path| to |out| as |role|. Fails
// like read_certificates, and if a certificate is already there with
// another role.
Status add_anchors(TrustAnchors& out, const std::string& path, AnchorRole role) {
  auto certs = read_certificates(path);
  if (!certs) return std::unexpected(certs.error());
  for (const UniquePtr<X509>& cert : *certs) {
    const std::string fp = certificate_fingerprint(cert.get());
    if (fp.empty()) return fail(Errc::invalid_credentials, "cannot encode a trust anchor of " + path);
    auto [it, fresh] = out.roles.emplace(fp, role);
    if (!fresh && it->second != role) {
      return fail(Errc::invalid_credentials,
                  "CA " + fp + " (" + path + ") is both an infrastructure anchor (trust_anchors) and a device "
                  "anchor (device_trust_anchors); a CA trusted for devices must not vouch for the MEF, the MAF "
                  "or Entity B: give each set its own CA");
    }
    if (!fresh) continue;  // the same CA twice in one set
    if (X509_STORE_add_cert(out.store.get(), cert.get()) != 1) {
      ossl_error_string();
      return fail(Errc::invalid_credentials, "cannot add trust anchor");
    }
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<const TrustAnchors>> load_trust_anchors(const std::string& ca_pem_path, AnchorRole role) {
  auto out = std::make_shared<TrustAnchors>();
  out->store.reset(X509_STORE_new());
  if (!out->store) return fail(Errc::invalid_credentials, "out of memory");
  if (Status st = add_anchors(*out, ca_pem_path, role); !st) return std::unexpected(st.error());
  return std::shared_ptr<const TrustAnchors>(std::move(out));
}

Result<std::shared_ptr<const TrustAnchors>> load_role_trust_anchors(const std::string& infrastructure_pem_path,
                                                                    const std::string& device_pem_path) {
  if (infrastructure_pem_path.empty() && device_pem_path.empty()) {
    return fail(Errc::invalid_argument, "no trust anchors");
  }
  auto out = std::make_shared<TrustAnchors>();
  out->store.reset(X509_STORE_new());
  if (!out->store) return fail(Errc::invalid_credentials, "out of memory");
  if (!infrastructure_pem_path.empty()) {
    if (Status st = add_anchors(*out, infrastructure_pem_path, AnchorRole::infrastructure); !st) {
      return std::unexpected(st.error());
    }
  }
  if (!device_pem_path.empty()) {
    if (Status st = add_anchors(*out, device_pem_path, AnchorRole::device); !st) return std::unexpected(st.error());
  }
  return std::shared_ptr<const TrustAnchors>(std::move(out));
}

Result<std::vector<std::string>> read_certificate_fingerprints(const std::string& pem_path) {
  auto certs = read_certificates(pem_path);
  if (!certs) return std::unexpected(certs.error());
  std::vector<std::string> out;
  for (const UniquePtr<X509>& cert : *certs) {
    std::string fp = certificate_fingerprint(cert.get());
    if (fp.empty()) return fail(Errc::invalid_credentials, "cannot encode a certificate of " + pem_path);
    out.push_back(std::move(fp));
  }
  return out;
}

}  // namespace m2msec::tls
