#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <memory>
#include <vector>

namespace tenantsync::crypto {

namespace {

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

// HMAC-SHA256 contexts already keyed, for the few keys one thread uses (a source's secrets).
// OpenSSL 3's one-shot HMAC() looks the algorithm and the digest up in its provider store and
// derives the key's pads on every call (~2 us, 10 % of the ingress loop's time per event under
// load); duplicating a keyed context skips all three. The keys are the configured secrets, kept
// here as long as the thread lives or until evicted, and wiped when dropped.
class KeyedMacs {
 public:
  ~KeyedMacs() {
    for (auto& e : entries_) OPENSSL_cleanse(e.key.data(), e.key.size());
  }
  // A context keyed with `key`, or null when OpenSSL cannot make one (the caller falls back).
  EVP_MAC_CTX* Get(std::string_view key) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].key == key) {
        if (i != 0) std::swap(entries_[i], entries_[0]);  // the hot key first
        return entries_[0].ctx.get();
      }
    }
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr || key.empty()) return nullptr;  // OpenSSL refuses an empty HMAC key
    MacCtx ctx(EVP_MAC_CTX_new(mac));
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                             key.size(), params) != 1)
      return nullptr;
    if (entries_.size() == kMaxKeys) {
      OPENSSL_cleanse(entries_.back().key.data(), entries_.back().key.size());
      entries_.pop_back();
    }
    entries_.insert(entries_.begin(), Entry{std::string(key), std::move(ctx)});
    return entries_.front().ctx.get();
  }

 private:
  static constexpr size_t kMaxKeys = 16;
  struct Entry {
    std::string key;
    MacCtx ctx;
  };
  std::vector<Entry> entries_;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  thread_local KeyedMacs keyed;
  if (EVP_MAC_CTX* base = keyed.Get(key)) {
    MacCtx ctx(EVP_MAC_CTX_dup(base));
    size_t len = 0;
    if (ctx &&
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1 &&
        EVP_MAC_final(ctx.get(), out, &len, sizeof(out)) == 1)
      return std::string(reinterpret_cast<char*>(out), len);
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
int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
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
  // Hand-rolled because EVP_DecodeBlock demands padding and silently keeps pad bytes.
  while (!b64.empty() && b64.back() == '=') b64.remove_suffix(1);
  if (b64.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(b64.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    int v = B64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tenantsync::crypto
