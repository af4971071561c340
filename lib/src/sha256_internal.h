// Internal: which SHA-256 block function runs (sha256.cc). Tests use this
// to check the hardware path against the portable one on the same inputs.
#pragma once

namespace walkit::detail {

// True when this CPU has the x86 SHA extensions (and this build can use them).
bool sha256_hardware_available();
// Selects the hardware path (when available) or the portable one for every
// Sha256 in the process; returns whether the hardware path was selected
// before. Not thread-safe: for tests and benchmarks only.
bool sha256_use_hardware(bool on);

}  // namespace walkit::detail
