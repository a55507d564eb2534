// Random: injected randomness (backoff jitter, generated passwords, ids in the simulator).
//
// Thread safety: implementations are safe to call from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace tenantsync {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, bound). bound must be > 0.
  virtual uint64_t Uniform(uint64_t bound) = 0;
  // Uniform in [0, 1).
  double UniformDouble() {
    return static_cast<double>(Uniform(1ULL << 53)) / static_cast<double>(1ULL << 53);
  }
};

// Deterministic pseudo-random numbers from a seed (tests, the simulator's --seed).
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t Uniform(uint64_t bound) override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_int_distribution<uint64_t>(0, bound - 1)(engine_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;  // guarded by mu_
};

// Cryptographically strong randomness (OpenSSL RAND_bytes) for secrets such as the random
// password a new Auth0 user is created with.
class SecureRandom final : public Random {
 public:
  uint64_t Uniform(uint64_t bound) override;
  // `n` random bytes; aborts the process if the system RNG fails (never returns weak bytes).
  static std::string Bytes(size_t n);
};

}  // namespace tenantsync
