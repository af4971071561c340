// fuzz_repair: bytes -> a session file -> scan_file + repair_file (no
// salvage): the properties are listed in repair_props.h.
#include <cstddef>
#include <cstdint>

#include "repair_props.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  walkit::fuzz::check_repair_properties(data, size, /*salvage=*/false);
  return 0;
}
