#include "common/crypto.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tenantsync::crypto {
namespace {

TEST(Crypto, HmacMatchesTheSpecVector) {
  EXPECT_EQ(HexEncode(HmacSha256("It's a Secret to Everybody", "Hello, World!")),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than SHA-256's block), and the empty key, in
// turn and repeated: each key's context is made once per thread and reused.
TEST(Crypto, HmacMatchesRfc4231WhateverOrderTheKeysComeIn) {
  struct Case {
    std::string key, data, mac;
  };
  const std::vector<Case> cases = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
  };
  for (int round = 0; round < 3; ++round) {
    for (const auto& c : cases) EXPECT_EQ(HexEncode(HmacSha256(c.key, c.data)), c.mac);
  }
}

// Property: for random keys (empty, shorter than, equal to and longer than SHA-256's 64-byte
// block) and random messages (empty to several blocks, every byte value), the MAC built from the
// keyed states equals OpenSSL's one-shot HMAC(). Fixed seed.
TEST(Crypto, HmacEqualsOpenSslsOneShotHmacForRandomKeysAndMessages) {
  std::mt19937 rng(20261201);
  auto bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  const size_t key_sizes[] = {0, 1, 20, 63, 64, 65, 131, 200};
  for (int i = 0; i < 2000; ++i) {
    const std::string key =
        bytes(key_sizes[rng() % std::size(key_sizes)] + (rng() % 3 == 0 ? rng() % 7 : 0));
    const std::string data = bytes(rng() % 3000);
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), want, &len);
    ASSERT_EQ(HexEncode(HmacSha256(key, data)),
              HexEncode(std::string(reinterpret_cast<char*>(want), len)))
        << "key " << key.size() << " bytes, data " << data.size() << " bytes";
  }
}

TEST(Crypto, HmacStaysRightWithMoreKeysThanAThreadKeepsAndOnManyThreads) {
  // 40 keys (a thread keeps 16 keyed contexts): every MAC computed again after its key was
  // evicted, and on four threads at once, equals the first.
  std::vector<std::string> keys, first;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("secret-" + std::to_string(i));
    first.push_back(HmacSha256(keys.back(), "payload " + std::to_string(i)));
  }
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = static_cast<size_t>(t); i < keys.size(); i += 3) {
          if (HmacSha256(keys[i], "payload " + std::to_string(i)) != first[i]) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(HmacSha256(keys[i], "payload " + std::to_string(i)), first[i]) << i;
    EXPECT_NE(HmacSha256(keys[i], "payload " + std::to_string(i) + "!"), first[i]) << i;
  }
}

TEST(Crypto, Base64RoundTripsWithAndWithoutPadding) {
  for (std::string raw : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    std::string enc = Base64Encode(raw);
    EXPECT_EQ(Base64Decode(enc), raw);
    while (!enc.empty() && enc.back() == '=') enc.pop_back();
    EXPECT_EQ(Base64Decode(enc), raw) << "unpadded " << enc;
  }
  EXPECT_FALSE(Base64Decode("ab$d").has_value());
  EXPECT_FALSE(Base64Decode("abcde").has_value());
}

TEST(Crypto, Base64DecodesEveryByteOfTheAlphabetAndRefusesTheRest) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const size_t value = alphabet.find(c);
    auto decoded = Base64Decode(std::string("AA") + c + "A");
    if (value == std::string::npos) {
      EXPECT_FALSE(decoded.has_value()) << "byte " << b;
      continue;
    }
    // 0, 0, value, 0 as 6-bit groups: value's high 4 bits end the second byte, its low 2 bits
    // start the third.
    ASSERT_TRUE(decoded.has_value()) << "byte " << b;
    EXPECT_EQ(*decoded, std::string({'\0', static_cast<char>(value >> 2),
                                     static_cast<char>((value & 3) << 6)}))
        << "byte " << b;
  }
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  EXPECT_EQ(Base64Decode(Base64Encode(every_byte)), every_byte);
}

TEST(Crypto, HexDecodeRefusesBadInput) {
  EXPECT_EQ(HexDecode("00fF"), std::string("\x00\xff", 2));
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(Crypto, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace tenantsync::crypto
