// m2msec/tls/ossl.h: ownership of OpenSSL handles.
//
// Every OpenSSL object the tls module holds is owned by a UniquePtr<T>,
// whose deleter is the one specialisation of OsslDeleter<T> below. This is
// the only file that calls an OpenSSL *_free function.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace m2msec::tls {

// OsslDeleter<T> frees one OpenSSL handle type; undefined for others, so a
// UniquePtr of an unlisted type does not compile.
template <typename T>
struct OsslDeleter;

#define M2MSEC_OSSL_DELETER(Type, free_fn)               \
  template <>                                            \
  struct OsslDeleter<Type> {                             \
    void operator()(Type* p) const noexcept { free_fn(p); } \
  }

M2MSEC_OSSL_DELETER(SSL_CTX, SSL_CTX_free);
M2MSEC_OSSL_DELETER(SSL, SSL_free);
M2MSEC_OSSL_DELETER(BIO, BIO_free_all);
M2MSEC_OSSL_DELETER(BIO_ADDR, BIO_ADDR_free);
M2MSEC_OSSL_DELETER(X509, X509_free);
M2MSEC_OSSL_DELETER(X509_STORE, X509_STORE_free);
M2MSEC_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
M2MSEC_OSSL_DELETER(EVP_MAC, EVP_MAC_free);
M2MSEC_OSSL_DELETER(EVP_MAC_CTX, EVP_MAC_CTX_free);
M2MSEC_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
M2MSEC_OSSL_DELETER(ASN1_BIT_STRING, ASN1_BIT_STRING_free);
M2MSEC_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
M2MSEC_OSSL_DELETER(BIGNUM, BN_free);
M2MSEC_OSSL_DELETER(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free);

#undef M2MSEC_OSSL_DELETER

// X509Stack owns a STACK_OF(X509) and the certificates in it.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_pop_free(p, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

template <typename T>
using UniquePtr = std::unique_ptr<T, OsslDeleter<T>>;

// ossl_error_string drains this thread's OpenSSL error queue and returns
// its entries joined by "; " (empty if the queue was empty). The text
// names library functions and reasons, never key material.
std::string ossl_error_string();

}  // namespace m2msec::tls
