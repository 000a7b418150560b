// bare_dtls.h: the bare OpenSSL DTLS server pieces the benches compare
// m2msec against: an HMAC cookie (RFC 6347 4.2.1) and the accept step that
// turns a verified ClientHello on the listening socket into a connected
// socket for that client, as m2msec's server does.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <cstring>

namespace m2msec::bench {

inline int bare_cookie_gen(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  static const unsigned char secret[32] = {1, 2, 3};
  BIO_ADDR* peer = BIO_ADDR_new();
  BIO_dgram_get_peer(SSL_get_rbio(ssl), peer);
  unsigned char buf[32];
  std::size_t alen = 0;
  BIO_ADDR_rawaddress(peer, buf, &alen);
  const unsigned short port = BIO_ADDR_rawport(peer);
  std::memcpy(buf + alen, &port, 2);
  BIO_ADDR_free(peer);
  HMAC(EVP_sha256(), secret, sizeof secret, buf, alen + 2, cookie, len);
  return 1;
}

inline int bare_cookie_verify(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  unsigned char want[EVP_MAX_MD_SIZE];
  unsigned int wlen = 0;
  bare_cookie_gen(ssl, want, &wlen);
  return wlen == len && CRYPTO_memcmp(want, cookie, len) == 0;
}

// bare_dtls_accept runs DTLSv1_listen on |lfd| (bound to |local|) until a
// client passes the cookie exchange, then gives |ssl| a socket bound to
// |local| and connected to that client; returns it (the caller closes it).
inline int bare_dtls_accept(SSL* ssl, int lfd, const sockaddr_in& local) {
  const int one = 1;
  BIO* lb = BIO_new_dgram(lfd, BIO_NOCLOSE);
  SSL_set_bio(ssl, lb, lb);
  SSL_set_options(ssl, SSL_OP_COOKIE_EXCHANGE);
  BIO_ADDR* peer = BIO_ADDR_new();
  while (DTLSv1_listen(ssl, peer) <= 0) {
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
  sockaddr_in p{};
  p.sin_family = AF_INET;
  p.sin_port = BIO_ADDR_rawport(peer);
  std::size_t alen = 0;
  BIO_ADDR_rawaddress(peer, &p.sin_addr, &alen);
  connect(fd, reinterpret_cast<sockaddr*>(&p), sizeof p);
  BIO* cb = BIO_new_dgram(fd, BIO_NOCLOSE);
  BIO_ctrl(cb, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &p);
  SSL_set_bio(ssl, cb, cb);
  BIO_ADDR_free(peer);
  return fd;
}

}  // namespace m2msec::bench
