#include "common/crypto.h"

#include <gtest/gtest.h>

namespace tenantsync::crypto {
namespace {

TEST(Crypto, HmacMatchesTheSpecVector) {
  EXPECT_EQ(HexEncode(HmacSha256("It's a Secret to Everybody", "Hello, World!")),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
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
