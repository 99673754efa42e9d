#pragma once
// result<T>: a value or a std::error_code, returned across subsystem
// boundaries (an `expected`-style type; std::expected is C++23).

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace adclick {

template <class T>
class [[nodiscard]] result {
 public:
  // Implicit on purpose: `return value;` and `return ec;` both read well.
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  result(std::error_code ec) : v_(std::in_place_index<1>, ec) {       // NOLINT
    assert(ec && "a failed result needs a non-zero error code");
  }
  template <class E, class = std::enable_if_t<std::is_error_code_enum_v<E>>>
  result(E e) : result(std::error_code(make_error_code(e))) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; a default (success) code when the result holds a value.
  std::error_code error() const noexcept {
    return has_value() ? std::error_code{} : std::get<1>(v_);
  }

 private:
  std::variant<T, std::error_code> v_;
};

}  // namespace adclick
