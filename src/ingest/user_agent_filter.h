#pragma once
// Known crawlers and link-preview fetchers by their User-Agent: the
// "general invalid traffic" filter by declared identity.
//
// The built-in list is the npm package crawler-user-agents (web/package.json,
// pinned by web/package-lock.json, built into the binary): about 1,500
// patterns, each with the real User-Agents it must match. It was chosen over
// isbot because its patterns are plain regular expressions that RE2 takes as
// they are (isbot's combined pattern needs look-behind, which neither RE2 nor
// Hyperscan has), and because every pattern carries real instances, which
// the tests use. Matching is case-sensitive, as the list's own validator
// does it.
//
// All patterns are matched at once by an RE2::Set (one DFA pass over the
// User-Agent), and verdicts are cached by the User-Agent's 64-bit hash in a
// fixed table (8,192 entries, 64 KiB; a newer verdict overwrites an older
// one in its slot), so a User-Agent seen before costs one hash and one load.
//
// Thread safety: is_bot() from any thread at once; the filter is immutable
// after create() but for its cache, whose slots are relaxed atomics.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace adclick::ingest {

// The text of crawler-user-agents.json as built in.
std::string_view known_agents_json();

// One entry of the built-in list.
struct known_agent {
  std::string pattern;
  std::string description;
  std::vector<std::string> instances;  // real User-Agents it matches
};

// The built-in list, parsed once.
const std::vector<known_agent>& known_agents();

struct user_agent_filter_options {
  bool builtin = true;              // the built-in list
  std::vector<std::string> extra;   // more bot patterns (RE2 syntax)
  std::vector<std::string> exempt;  // a User-Agent matching one of these is never a bot
};

class user_agent_filter {
 public:
  // Compiles the patterns; nullptr with `error_line` naming the first one
  // that does not compile (the built-in ones all do: tested).
  static std::unique_ptr<user_agent_filter> create(const user_agent_filter_options& o,
                                                   std::string& error_line);
  ~user_agent_filter();
  user_agent_filter(const user_agent_filter&) = delete;
  user_agent_filter& operator=(const user_agent_filter&) = delete;

  // True for a known crawler or preview fetcher, and for an empty
  // User-Agent (a browser always sends one).
  bool is_bot(std::string_view user_agent) const;
  // The same without the cache (benchmarks, tests).
  bool match(std::string_view user_agent) const;

  std::size_t bot_patterns() const { return bot_patterns_; }

 private:
  struct sets;
  explicit user_agent_filter(std::unique_ptr<sets> s, std::size_t bot_patterns);

  static constexpr std::size_t kCacheSlots = 8192;
  std::unique_ptr<sets> sets_;
  std::size_t bot_patterns_ = 0;
  // A slot holds the hash with its lowest bit replaced by the verdict; 0 is
  // empty (a hash whose high 63 bits are all zero is simply not cached).
  mutable std::array<std::atomic<std::uint64_t>, kCacheSlots> cache_{};
};

}  // namespace adclick::ingest
