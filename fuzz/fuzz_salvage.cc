// fuzz_salvage: bytes -> a session file -> repair_file with salvage (what
// `walrepair --salvage` runs): the properties are listed in repair_props.h,
// property 7 (the clean prefix is kept) applying to salvage only.
#include <cstddef>
#include <cstdint>

#include "repair_props.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  walkit::fuzz::check_repair_properties(data, size, /*salvage=*/true);
  return 0;
}
