#pragma once
// What a write_batch records (internal to state): a batch is built before
// it meets its store (and its column family handles), so the operations are
// recorded and replayed by store::write. They are kept back to back in one
// byte buffer, so that a shard's commit of tens of thousands of keys costs
// no allocation per key.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "state/column_families.h"
#include "state/write_batch.h"

namespace adclick::state {

struct write_batch::impl {
  enum class kind : std::uint8_t { put, merge, del, del_range };  // del_range: [key, value)

  // Each operation: cf (1 byte), kind (1), key size (4), key, value size (4),
  // value; sizes in host order (the buffer never leaves the process).
  std::string rep;
  std::size_t operations = 0;
  std::size_t bytes = 0;  // what the operations would cost in the WAL, roughly

  // Appends one operation whose key and value the two functions append to
  // the string they are given.
  template <class KeyFn, class ValueFn>
  requires std::invocable<KeyFn&, std::string&> && std::invocable<ValueFn&, std::string&>
  void add(cf_index cf, kind k, KeyFn&& key, ValueFn&& value) {
    rep.push_back(static_cast<char>(cf));
    rep.push_back(static_cast<char>(k));
    append_sized(key);
    append_sized(value);
    ++operations;
  }
  void add(cf_index cf, kind k, std::string_view key, std::string_view value) {
    add(
        cf, k, [&](std::string& out) { out.append(key); },
        [&](std::string& out) { out.append(value); });
  }

  // Calls fn(cf, kind, key, value) for each operation, in order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::size_t pos = 0;
    while (pos < rep.size()) {
      const auto cf = static_cast<cf_index>(static_cast<unsigned char>(rep[pos]));
      const auto k = static_cast<kind>(rep[pos + 1]);
      pos += 2;
      const std::string_view key = read_sized(pos);
      const std::string_view value = read_sized(pos);
      fn(cf, k, key, value);
    }
  }

 private:
  template <class Fn>
  void append_sized(Fn& fill) {
    const std::size_t at = rep.size();
    rep.append(4, '\0');
    fill(rep);
    const auto n = static_cast<std::uint32_t>(rep.size() - at - 4);
    std::memcpy(rep.data() + at, &n, 4);
  }
  std::string_view read_sized(std::size_t& pos) const {
    std::uint32_t n = 0;
    std::memcpy(&n, rep.data() + pos, 4);
    const std::string_view s(rep.data() + pos + 4, n);
    pos += 4 + n;
    return s;
  }
};

}  // namespace adclick::state
