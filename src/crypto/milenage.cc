#include "m2msec/crypto/milenage.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <tuple>

namespace m2msec::crypto {
namespace {

using Block = std::array<std::uint8_t, 16>;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// Aes is AES-128 encryption of single blocks under one key (ECB, no
// padding: the block cipher E_K of TS 35.206).
class Aes {
 public:
  static Result<Aes> make(std::span<const std::uint8_t> key) {
    Aes a;
    a.ctx_.reset(EVP_CIPHER_CTX_new());
    if (!a.ctx_ || EVP_EncryptInit_ex(a.ctx_.get(), EVP_aes_128_ecb(), nullptr, key.data(), nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(a.ctx_.get(), 0) != 1) {
      return fail(Errc::invalid_argument, "AES-128 unavailable");
    }
    return a;
  }
  Result<Block> encrypt(const Block& in) {
    Block out{};
    int n = 0;
    if (EVP_EncryptUpdate(ctx_.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1 || n != 16) {
      return fail(Errc::invalid_argument, "AES-128 failed");
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
};

Block to_block(std::span<const std::uint8_t> b) {
  Block out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

Block xored(const Block& a, const Block& b) {
  Block out{};
  for (std::size_t i = 0; i < 16; ++i) out[i] = a[i] ^ b[i];
  return out;
}

// rotated cyclically rotates |x| by |bits| (a multiple of 8) towards the
// most significant end: rot(x, r) of TS 35.206.
Block rotated(const Block& x, std::size_t bits) {
  const std::size_t by = bits / 8;
  Block out{};
  for (std::size_t i = 0; i < 16; ++i) out[i] = x[(i + by) % 16];
  return out;
}

Block constant(std::uint8_t last) {
  Block c{};
  c[15] = last;
  return c;
}

// BlockWiper wipes the blocks it names when it goes, on every return path.
struct BlockWiper {
  std::array<Block*, 3> blocks{};
  ~BlockWiper() {
    for (Block* b : blocks) {
      if (b != nullptr) secure_wipe(b->data(), b->size());
    }
  }
};

Status check(std::span<const std::uint8_t> v, std::size_t n, const char* what) {
  if (v.size() != n) return fail(Errc::invalid_length, std::string(what) + " must be " + std::to_string(n) + " bytes");
  return {};
}

}  // namespace

MilenageOutput::~MilenageOutput() {
  for (auto* a : {&mac_a, &mac_s, &res}) secure_wipe(a->data(), a->size());
  for (auto* a : {&ak, &ak_s}) secure_wipe(a->data(), a->size());
}

Result<SecretBytes> milenage_opc(std::span<const std::uint8_t> k, std::span<const std::uint8_t> op) {
  if (Status st = check(k, kMilenageKeySize, "K"); !st) return std::unexpected(st.error());
  if (Status st = check(op, kMilenageKeySize, "OP"); !st) return std::unexpected(st.error());
  auto aes = Aes::make(k);
  if (!aes) return std::unexpected(aes.error());
  Block opb = to_block(op), ek{}, opc{};
  const BlockWiper wiper{{&opb, &ek, &opc}};
  auto e = aes->encrypt(opb);
  if (!e) return std::unexpected(e.error());
  ek = *e;
  secure_wipe(e->data(), e->size());
  opc = xored(ek, opb);
  return SecretBytes(std::span<const std::uint8_t>(opc.data(), opc.size()));
}

Result<MilenageOutput> milenage(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                std::span<const std::uint8_t> rand, std::span<const std::uint8_t> sqn,
                                std::span<const std::uint8_t> amf) {
  for (auto [v, n, what] : {std::tuple{k, kMilenageKeySize, "K"}, std::tuple{opc, kMilenageKeySize, "OPc"},
                            std::tuple{rand, kMilenageKeySize, "RAND"}, std::tuple{sqn, kSqnSize, "SQN"},
                            std::tuple{amf, kAmfSize, "AMF"}}) {
    if (Status st = check(v, n, what); !st) return std::unexpected(st.error());
  }
  auto aes = Aes::make(k);
  if (!aes) return std::unexpected(aes.error());
  Block op_c = to_block(opc), in1{};
  const BlockWiper wiper{{&op_c, &in1, nullptr}};
  auto temp = aes->encrypt(xored(to_block(rand), op_c));
  if (!temp) return std::unexpected(temp.error());

  // f1, f1*: IN1 = SQN || AMF || SQN || AMF; OUT1 = E_K(TEMP xor
  // rot(IN1 xor OPc, r1) xor c1) xor OPc.
  std::copy(sqn.begin(), sqn.end(), in1.begin());
  std::copy(amf.begin(), amf.end(), in1.begin() + 6);
  std::copy(sqn.begin(), sqn.end(), in1.begin() + 8);
  std::copy(amf.begin(), amf.end(), in1.begin() + 14);
  auto out1 = aes->encrypt(xored(xored(*temp, rotated(xored(in1, op_c), 64)), constant(0)));
  if (!out1) return std::unexpected(out1.error());
  *out1 = xored(*out1, op_c);

  // f2-f5*: OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc.
  auto out = [&](std::size_t r, std::uint8_t c) -> Result<Block> {
    auto o = aes->encrypt(xored(rotated(xored(*temp, op_c), r), constant(c)));
    if (!o) return o;
    return xored(*o, op_c);
  };
  auto out2 = out(0, 1), out3 = out(32, 2), out4 = out(64, 4), out5 = out(96, 8);
  if (!out2 || !out3 || !out4 || !out5) return fail(Errc::invalid_argument, "AES-128 failed");

  MilenageOutput r;
  std::copy(out1->begin(), out1->begin() + 8, r.mac_a.begin());
  std::copy(out1->begin() + 8, out1->end(), r.mac_s.begin());
  std::copy(out2->begin(), out2->begin() + 6, r.ak.begin());
  std::copy(out2->begin() + 8, out2->end(), r.res.begin());
  r.ck = SecretBytes(std::span<const std::uint8_t>(out3->data(), 16));
  r.ik = SecretBytes(std::span<const std::uint8_t>(out4->data(), 16));
  std::copy(out5->begin(), out5->begin() + 6, r.ak_s.begin());
  for (Block* b : {&*temp, &*out1, &*out2, &*out3, &*out4, &*out5}) secure_wipe(b->data(), b->size());
  return r;
}

std::array<std::uint8_t, 16> milenage_autn(const MilenageOutput& out, std::span<const std::uint8_t, kSqnSize> sqn,
                                           std::span<const std::uint8_t, kAmfSize> amf) {
  std::array<std::uint8_t, 16> autn{};
  for (std::size_t i = 0; i < kSqnSize; ++i) autn[i] = sqn[i] ^ out.ak[i];
  autn[6] = amf[0];
  autn[7] = amf[1];
  std::copy(out.mac_a.begin(), out.mac_a.end(), autn.begin() + 8);
  return autn;
}

Sqn sqn_from_u64(std::uint64_t v) {
  Sqn out{};
  for (std::size_t i = 0; i < kSqnSize; ++i) out[kSqnSize - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
  return out;
}

std::uint64_t sqn_to_u64(const Sqn& sqn) {
  std::uint64_t v = 0;
  for (std::uint8_t b : sqn) v = (v << 8) | b;
  return v;
}

Result<AutnCheck> milenage_verify_autn(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                       std::span<const std::uint8_t> rand, std::span<const std::uint8_t> autn) {
  if (Status st = check(autn, kAutnSize, "AUTN"); !st) return std::unexpected(st.error());
  // AK does not depend on SQN or AMF: a first run with zeros yields it.
  const Sqn zero_sqn{};
  const std::array<std::uint8_t, kAmfSize> amf{autn[6], autn[7]};
  auto first = milenage(k, opc, rand, zero_sqn, amf);
  if (!first) return std::unexpected(first.error());
  AutnCheck c;
  for (std::size_t i = 0; i < kSqnSize; ++i) c.sqn[i] = autn[i] ^ first->ak[i];
  auto run = milenage(k, opc, rand, c.sqn, amf);
  if (!run) return std::unexpected(run.error());
  if (!ct_equal(run->mac_a, autn.subspan(8, 8))) return fail(Errc::authentication_failed, "AUTN MAC does not verify");
  c.out = std::move(*run);
  return c;
}

Result<std::array<std::uint8_t, kAutsSize>> milenage_auts(std::span<const std::uint8_t> k,
                                                          std::span<const std::uint8_t> opc,
                                                          std::span<const std::uint8_t> rand, const Sqn& sqn_ms) {
  const std::array<std::uint8_t, kAmfSize> dummy_amf{};
  auto run = milenage(k, opc, rand, sqn_ms, dummy_amf);
  if (!run) return std::unexpected(run.error());
  std::array<std::uint8_t, kAutsSize> auts{};
  for (std::size_t i = 0; i < kSqnSize; ++i) auts[i] = sqn_ms[i] ^ run->ak_s[i];
  std::copy(run->mac_s.begin(), run->mac_s.end(), auts.begin() + kSqnSize);
  return auts;
}

Result<Sqn> milenage_verify_auts(std::span<const std::uint8_t> k, std::span<const std::uint8_t> opc,
                                 std::span<const std::uint8_t> rand, std::span<const std::uint8_t> auts) {
  if (Status st = check(auts, kAutsSize, "AUTS"); !st) return std::unexpected(st.error());
  // AK* does not depend on SQN: a first run with zeros yields it.
  const Sqn zero_sqn{};
  const std::array<std::uint8_t, kAmfSize> dummy_amf{};
  auto first = milenage(k, opc, rand, zero_sqn, dummy_amf);
  if (!first) return std::unexpected(first.error());
  Sqn sqn_ms{};
  for (std::size_t i = 0; i < kSqnSize; ++i) sqn_ms[i] = auts[i] ^ first->ak_s[i];
  auto run = milenage(k, opc, rand, sqn_ms, dummy_amf);
  if (!run) return std::unexpected(run.error());
  if (!ct_equal(run->mac_s, auts.subspan(kSqnSize, 8))) return fail(Errc::authentication_failed, "MAC-S does not verify");
  return sqn_ms;
}

}  // namespace m2msec::crypto
