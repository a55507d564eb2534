#include "common/gzip.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tenantsync {
namespace {

TEST(Gzip, ChunksAddUpToTheWholeTextAndABadSinkStopsIt) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{\"user_id\":\"auth0|" + std::to_string(i) + "\"}\n";
  auto packed = GzipCompress(text);
  ASSERT_TRUE(packed.ok());
  std::string joined;
  int chunks = 0;
  ASSERT_TRUE(GzipDecompressChunks(*packed, [&](std::string_view c) {
                ++chunks;
                joined.append(c);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(joined, text);
  EXPECT_GT(chunks, 1) << "a 500 KB text comes in pieces";
  Status st = GzipDecompressChunks(*packed, [](std::string_view) { return Status::Invalid("no"); });
  EXPECT_EQ(st.message(), "no");
  EXPECT_FALSE(GzipDecompressChunks(packed->substr(0, packed->size() / 2),
                                    [](std::string_view) { return Status::Ok(); })
                   .ok())
      << "truncated";
  EXPECT_FALSE(GzipDecompressChunks("plain", [](std::string_view) { return Status::Ok(); }).ok());
}

TEST(Gzip, LinesAreWholeHoweverTheChunksCutThem) {
  std::vector<std::string> lines;
  LineSplitter split([&](std::string_view l) {
    lines.emplace_back(l);
    return Status::Ok();
  });
  for (auto chunk : {"ab", "c\nde", "f\n\ng", "h", "\n", "last"})
    ASSERT_TRUE(split.Add(chunk).ok());
  ASSERT_TRUE(split.Finish().ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "def", "", "gh", "last"}));
  LineSplitter failing(
      [](std::string_view l) { return l == "bad" ? Status::Invalid("bad line") : Status::Ok(); });
  EXPECT_TRUE(failing.Add("ok\nba").ok());
  EXPECT_EQ(failing.Add("d\nnever\n").message(), "bad line");
}

}  // namespace
}  // namespace tenantsync
