// Fuzz entry points shared by the libFuzzer binaries (fuzz-signature, fuzz-event) and the plain
// corpus driver (fuzz_corpus_test) that runs them under any compiler in CI.
//
// Each function returns 0 and aborts (with a message on stderr) when an invariant is violated,
// which is how both libFuzzer and the driver notice a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define TS_FUZZ_CHECK(cond)                                                                    \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz invariant failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace tenantsync::fuzz {

// Input layout: byte 0 picks the scheme and option variant; the rest is split on '\n' into
// header values and, after the last used header, the body. See fuzz_signature.cpp.
int FuzzSignature(const uint8_t* data, size_t size);

// Input: JSON text, parsed with ParseJson and validated with ParseEvent, both as a whole body
// and as the `data` of every event type.
int FuzzEvent(const uint8_t* data, size_t size);

}  // namespace tenantsync::fuzz
