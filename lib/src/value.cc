// Value's members that walk its nesting (destructor, copy, ==) and its
// integer factory. Each walk uses an explicit stack, never the C stack, so
// a deep value (parse_json allows kMaxDepth levels, code may build more)
// costs heap, not stack: a thread with a small stack, or an ASan build
// whose frames are several times larger, is as safe as any other.
#include "walkit/value.h"

#include <charconv>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "walk_stack.h"

namespace walkit {

bool Value::has_nested_children() const {
  const auto nested = [](const Value& c) {
    return (c.is_array() && !c.as_array().empty()) || (c.is_object() && !c.as_object().empty());
  };
  if (is_array()) {
    for (const Value& c : as_array()) {
      if (nested(c)) return true;
    }
  } else if (is_object()) {
    for (const Member& m : as_object()) {
      if (nested(m.second)) return true;
    }
  }
  return false;
}

// Destroyed by the variant member, a container destroys its children, which
// destroy theirs: one set of frames per level. Instead, before that happens,
// every non-empty container below the children is moved (O(1): a vector
// move leaves an empty one behind) to a worklist, and each worklist entry is
// taken apart the same way before it is destroyed. What the variant then
// destroys is never more than two levels deep.
Value::~Value() {
  if (!has_nested_children()) return;
  try {
    std::vector<Value> todo;
    const auto detach = [&todo](Value& x) {
      const auto take = [&todo](Value& c) {
        if ((c.is_array() && !c.as_array().empty()) || (c.is_object() && !c.as_object().empty())) {
          todo.push_back(std::move(c));
        }
      };
      if (x.is_array()) {
        for (Value& c : x.as_array()) take(c);
      } else if (x.is_object()) {
        for (Member& m : x.as_object()) take(m.second);
      }
    };
    if (is_array()) {
      for (Value& c : as_array()) detach(c);
    } else {
      for (Member& m : as_object()) detach(m.second);
    }
    while (!todo.empty()) {
      Value x = std::move(todo.back());
      todo.pop_back();
      detach(x);
    }  // x: only leaves and empty containers left below it
  } catch (const std::bad_alloc&) {
    // No memory for the worklist: what is left goes the recursive way, which
    // is bounded by kMaxDepth for anything parse_json made.
  }
}

// Containers are created empty with their final capacity, so a pointer to
// a child stays valid while its siblings are added; each child container
// is filled when its turn comes.
Value::Value(const Value& other) {
  if (!other.is_container()) {
    v_ = other.v_;  // a scalar or a string: no nesting
    return;
  }
  struct Copy {
    const Value* from;
    Value* to;
  };
  detail::WalkStack<Copy, 32> todo;
  // An empty container of from's kind in `to`, to be filled when popped.
  const auto shell = [&todo](const Value& from, Value& to) {
    if (from.is_array()) {
      to.v_ = Array{};
    } else {
      to.v_ = Object{};
    }
    todo.push(Copy{&from, &to});
  };
  shell(other, *this);
  while (!todo.empty()) {
    const Copy c = todo.back();
    todo.pop();
    if (c.from->is_array()) {
      const Array& from = c.from->as_array();
      Array& to = c.to->as_array();
      to.reserve(from.size());
      for (const Value& e : from) {
        if (e.is_container()) {
          to.emplace_back();
          shell(e, to.back());
        } else {
          to.push_back(e);
        }
      }
    } else {
      const Object& from = c.from->as_object();
      Object& to = c.to->as_object();
      to.reserve(from.size());
      for (const Member& m : from) {
        if (m.second.is_container()) {
          to.emplace_back(m.first, Value());
          shell(m.second, to.back().second);
        } else {
          to.push_back(m);
        }
      }
    }
  }
}

Value& Value::operator=(const Value& other) {
  if (this != &other) {
    Value copy(other);  // first: `other` may live inside *this
    *this = std::move(copy);
  }
  return *this;
}

bool operator==(const Value& a, const Value& b) {
  struct Pair {
    const Value* a;
    const Value* b;
  };
  detail::WalkStack<Pair, 32> todo;
  todo.push(Pair{&a, &b});
  while (!todo.empty()) {
    const Pair p = todo.back();
    todo.pop();
    if (p.a->type() != p.b->type()) return false;
    if (p.a->is_array()) {
      const Value::Array &x = p.a->as_array(), &y = p.b->as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) todo.push(Pair{&x[i], &y[i]});
    } else if (p.a->is_object()) {
      const Value::Object &x = p.a->as_object(), &y = p.b->as_object();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (x[i].first != y[i].first) return false;
        todo.push(Pair{&x[i].second, &y[i].second});
      }
    } else if (!(p.a->v_ == p.b->v_)) {
      return false;  // scalars, strings and big integers compare as the variant does
    }
  }
  return true;
}

Result<Value> Value::integer(std::string_view decimal) {
  const bool minus = !decimal.empty() && decimal[0] == '-';
  const std::string_view digits = decimal.substr(minus ? 1 : 0);
  const bool grammar = !digits.empty() && (digits == "0" || digits[0] != '0') &&
                       digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (!grammar) {
    return Status(Code::kInvalidArgument, "not an integer's decimal text: \"" +
                                              std::string(decimal.substr(0, 40)) +
                                              (decimal.size() > 40 ? "...\"" : "\""));
  }
  const char* end = decimal.data() + decimal.size();
  if (minus) {
    int64_t i = 0;
    if (std::from_chars(decimal.data(), end, i).ec == std::errc()) return Value(i);
  } else {
    uint64_t u = 0;
    if (std::from_chars(decimal.data(), end, u).ec == std::errc()) {
      return u <= uint64_t{INT64_MAX} ? Value(static_cast<int64_t>(u)) : Value(u);
    }
  }
  // The grammar holds and 64 bits do not: no leading zero, and not "-0".
  return Value(BigInt{std::string(decimal)});
}

}  // namespace walkit
