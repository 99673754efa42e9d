#pragma once
// The std::error_category of one subsystem's errc enum, from its name and a
// function that says what each code means: every subsystem's category is
// this one class.

#include <string>
#include <system_error>

namespace adclick::base {

template <class Errc>
class errc_category final : public std::error_category {
 public:
  // `describe` returns null for a value outside the enum.
  using describe_fn = const char* (*)(Errc) noexcept;
  errc_category(const char* name, describe_fn describe) noexcept : name_(name), describe_(describe) {}

  const char* name() const noexcept override { return name_; }
  std::string message(int c) const override {
    if (const char* m = describe_(static_cast<Errc>(c))) return m;
    return std::string("unknown ") + name_ + " error " + std::to_string(c);
  }

 private:
  const char* const name_;
  const describe_fn describe_;
};

}  // namespace adclick::base
