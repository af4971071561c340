// Measuring the C stack a piece of code needs, for the depth tests: walks
// over values nested kMaxDepth deep must not need more stack than flat ones.
#pragma once

#include <cstddef>
#include <functional>

namespace walkit::test {

// Runs `body` on a new thread whose stack (`stack_bytes`, mapped here with a
// guard page below it, so an overflow faults instead of corrupting memory)
// is filled with a pattern first, and returns how many bytes from its top
// were written: the thread's peak stack use, thread start included.
// Exceptions from `body` are rethrown in the caller. Under ASan the count
// includes its redzones; with ASan's detect_stack_use_after_return (off by
// default) frames would live on the heap and be missed.
size_t peak_stack_use(const std::function<void()>& body, size_t stack_bytes = size_t{8} << 20);

}  // namespace walkit::test
