#include "common/crypto.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they stay in its
// ABI and are the only OpenSSL interface whose state is a plain struct that can be copied
// without an allocation; HmacSha256 below copies two of them per call.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

namespace tenantsync::crypto {

namespace {

// HMAC-SHA256 (RFC 2104) states already keyed, for the few keys one thread uses (a source's
// secrets): SHA-256 after the key's inner pad block and after its outer pad block. OpenSSL 3's
// one-shot HMAC() looks the algorithm and the digest up in its provider store and derives the
// pads on every call (~2 us, 10 % of the ingress loop's time per event under load); duplicating
// a keyed EVP_MAC_CTX skipped that but still allocated and freed three provider contexts per
// call (~16,000 instructions per webhook, callgrind). Copying the two states is a memcpy. The
// keys and the states derived from them are wiped when dropped.
class KeyedStates {
 public:
  struct States {
    SHA256_CTX inner;
    SHA256_CTX outer;
  };
  ~KeyedStates() {
    for (auto& e : entries_) Wipe(*e);
  }
  // The states for `key`, or null when OpenSSL fails (the caller falls back to HMAC()).
  const States* Get(std::string_view key) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i]->key == key) {
        if (i != 0) std::swap(entries_[i], entries_[0]);  // the hot key first
        return &entries_[0]->states;
      }
    }
    // Held by pointer: reordering and growing the list move pointers, never copies of the
    // key-derived states that would be left unwiped.
    auto e = std::make_unique<Entry>();
    e->key.assign(key);
    unsigned char block[SHA256_CBLOCK] = {0};
    if (key.size() > SHA256_CBLOCK) {
      SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
    } else {
      std::memcpy(block, key.data(), key.size());
    }
    unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
    for (size_t i = 0; i < SHA256_CBLOCK; ++i) {
      ipad[i] = block[i] ^ 0x36;
      opad[i] = block[i] ^ 0x5c;
    }
    const bool ok = SHA256_Init(&e->states.inner) == 1 &&
                    SHA256_Update(&e->states.inner, ipad, sizeof(ipad)) == 1 &&
                    SHA256_Init(&e->states.outer) == 1 &&
                    SHA256_Update(&e->states.outer, opad, sizeof(opad)) == 1;
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    if (!ok) {
      Wipe(*e);
      return nullptr;
    }
    if (entries_.size() == kMaxKeys) {
      Wipe(*entries_.back());
      entries_.pop_back();
    }
    entries_.insert(entries_.begin(), std::move(e));
    return &entries_.front()->states;
  }

 private:
  static constexpr size_t kMaxKeys = 16;
  struct Entry {
    std::string key;
    States states{};
  };
  static void Wipe(Entry& e) {
    OPENSSL_cleanse(e.key.data(), e.key.size());
    OPENSSL_cleanse(&e.states, sizeof(e.states));
  }
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  thread_local KeyedStates keyed;
  if (const KeyedStates::States* states = keyed.Get(key)) {
    SHA256_CTX ctx = states->inner;
    unsigned char inner[SHA256_DIGEST_LENGTH];
    bool ok = SHA256_Update(&ctx, data.data(), data.size()) == 1 && SHA256_Final(inner, &ctx) == 1;
    ctx = states->outer;
    ok = ok && SHA256_Update(&ctx, inner, sizeof(inner)) == 1 && SHA256_Final(out, &ctx) == 1;
    OPENSSL_cleanse(&ctx, sizeof(ctx));
    if (ok) return std::string(reinterpret_cast<char*>(out), SHA256_DIGEST_LENGTH);
  }
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string HexEncode(std::string_view raw) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Each byte's base64 value (RFC 4648 §4 alphabet), -1 for bytes outside it.
constexpr std::array<int8_t, 256> kB64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<int8_t>(i);
    t['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(52 + i);
  t['+'] = 62;
  t['/'] = 63;
  return t;
}();
}  // namespace

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string Base64Encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view b64) {
  // Hand-rolled because EVP_DecodeBlock demands padding and silently keeps pad bytes. Every
  // signature header and every standard-webhooks secret is decoded per delivery: one table
  // look-up per character, written into the output sized once.
  while (!b64.empty() && b64.back() == '=') b64.remove_suffix(1);
  if (b64.size() % 4 == 1) return std::nullopt;
  std::string out(b64.size() * 3 / 4, '\0');
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    const int v = kB64Values[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tenantsync::crypto
