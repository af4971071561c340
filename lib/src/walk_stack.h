// Internal: the explicit stack of walkit's iterative walks over nested
// values (value.cc, python_json.cc, record_lines.cc). No walk over a Value
// or a JSON text recurses on its nesting, so stack use is the same at depth
// 1 and at depth 10**6 (value_test measures it, also under ASan).
#pragma once

#include <cstddef>
#include <vector>

namespace walkit::detail {

// A LIFO stack kept in a fixed array for its first N entries and on the
// heap beyond: the walks of ordinary values (a few levels deep) never
// allocate for it. References from back() are valid until the next push().
template <typename T, size_t N>
class WalkStack {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& back() { return size_ <= N ? small_[size_ - 1] : big_.back(); }
  T& operator[](size_t i) { return i < N ? small_[i] : big_[i - N]; }
  void push(const T& t) {
    if (size_ < N) {
      small_[size_] = t;
    } else {
      big_.push_back(t);
    }
    ++size_;
  }
  void pop() {
    if (size_ > N) big_.pop_back();
    --size_;
  }

 private:
  T small_[N];
  std::vector<T> big_;
  size_t size_ = 0;
};

}  // namespace walkit::detail
