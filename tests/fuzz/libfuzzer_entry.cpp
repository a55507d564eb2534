// libFuzzer entry: TS_FUZZ_ENTRY names the function from fuzz_targets.h this binary fuzzes.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tenantsync::fuzz::TS_FUZZ_ENTRY(data, size);
}
