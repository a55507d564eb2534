// Runs the fuzz entry points without libFuzzer, under any compiler: every seed in
// tests/fuzz/corpus/<target>/ plus a fixed number of deterministic mutations of them. It is a
// regression net for CI, not a substitute for real fuzzing (see tests/fuzz/README.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace tenantsync::fuzz {
namespace {

constexpr int kMutationsPerTarget = 10000;
constexpr size_t kMaxInput = 4096;

std::vector<std::string> LoadCorpus(const std::string& target) {
  std::vector<std::string> seeds;
  const std::filesystem::path dir = std::filesystem::path(TENANTSYNC_FUZZ_CORPUS_DIR) / target;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // deterministic order, whatever the file system does
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return seeds;
}

// A small libFuzzer-like mutator: bit flips, interesting bytes, inserts, erases, duplication and
// splicing with another seed.
std::string Mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  static constexpr char kInteresting[] = {'\0', '\xff', '"',  '\\', '{', '}', '[', ']',
                                          ',',  ':',    '\n', '=',  ' ', '.', '$', '0',
                                          '9',  '-',    'e',  'u',  '#', '@', '/'};
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < rounds; ++i) {
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        if (!s.empty()) s[pick(s.size())] = kInteresting[pick(sizeof(kInteresting))];
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)),
                 kInteresting[pick(sizeof(kInteresting))]);
        break;
      case 3:
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 4:
        if (!s.empty()) {
          size_t at = pick(s.size());
          size_t len = 1 + pick(std::min<size_t>(32, s.size() - at));
          s.insert(pick(s.size() + 1), s.substr(at, len));
        }
        break;
      default: {
        const std::string& other = seeds[pick(seeds.size())];
        size_t cut = pick(s.size() + 1);
        size_t from = pick(other.size() + 1);
        s = s.substr(0, cut) + other.substr(from);
        break;
      }
    }
  }
  if (s.size() > kMaxInput) s.resize(kMaxInput);
  return s;
}

void RunTarget(const std::string& target, int (*fn)(const uint8_t*, size_t), uint64_t seed) {
  const auto seeds = LoadCorpus(target);
  ASSERT_FALSE(seeds.empty()) << "no seeds in corpus/" << target;
  for (const auto& s : seeds) fn(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kMutationsPerTarget; ++i) {
    const std::string input = Mutate(seeds[rng() % seeds.size()], seeds, rng);
    fn(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  // Degenerate inputs.
  fn(nullptr, 0);
  const std::string zeros(kMaxInput, '\0');
  fn(reinterpret_cast<const uint8_t*>(zeros.data()), zeros.size());
}

TEST(FuzzCorpusTest, Signature) { RunTarget("signature", &FuzzSignature, 0x5167); }
TEST(FuzzCorpusTest, Event) { RunTarget("event", &FuzzEvent, 0xE7E7); }

}  // namespace
}  // namespace tenantsync::fuzz
