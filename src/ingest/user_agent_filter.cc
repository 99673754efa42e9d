#include "ingest/user_agent_filter.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <re2/set.h>
#include <xxhash.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace adclick::ingest {
namespace {

// The DFA of ~1,500 patterns needs more than RE2's default 8 MiB to run
// without falling back.
constexpr std::int64_t kSetMemory = 64 << 20;

RE2::Options set_options() {
  RE2::Options o;
  o.set_max_mem(kSetMemory);
  o.set_log_errors(false);
  return o;
}

std::vector<known_agent> parse_known_agents() {
  const auto j = nlohmann::json::parse(known_agents_json(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    throw std::runtime_error("the built-in crawler-user-agents.json does not parse");
  }
  std::vector<known_agent> out;
  out.reserve(j.size());
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("pattern") || !e["pattern"].is_string()) continue;
    known_agent a;
    a.pattern = e["pattern"].get<std::string>();
    if (e.contains("description") && e["description"].is_string())
      a.description = e["description"].get<std::string>();
    if (e.contains("instances") && e["instances"].is_array()) {
      for (const auto& i : e["instances"]) {
        if (i.is_string()) a.instances.push_back(i.get<std::string>());
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

const std::vector<known_agent>& known_agents() {
  static const std::vector<known_agent> all = parse_known_agents();
  return all;
}

struct user_agent_filter::sets {
  RE2::Set bots{set_options(), RE2::UNANCHORED};
  RE2::Set exempt{set_options(), RE2::UNANCHORED};
  bool has_exempt = false;
};

user_agent_filter::user_agent_filter(std::unique_ptr<sets> s, std::size_t bot_patterns)
    : sets_(std::move(s)), bot_patterns_(bot_patterns) {}

user_agent_filter::~user_agent_filter() = default;

std::unique_ptr<user_agent_filter> user_agent_filter::create(const user_agent_filter_options& o,
                                                             std::string& error_line) {
  auto s = std::make_unique<sets>();
  std::size_t n = 0;
  std::string why;
  auto add = [&](RE2::Set& set, const std::string& pattern, std::string_view what) {
    if (set.Add(pattern, &why) < 0) {
      error_line = fmt::format("{} pattern \"{}\" does not compile: {}", what, pattern, why);
      return false;
    }
    return true;
  };
  if (o.builtin) {
    for (const auto& a : known_agents()) {
      if (!add(s->bots, a.pattern, "built-in")) return nullptr;
      ++n;
    }
  }
  for (const auto& p : o.extra) {
    if (!add(s->bots, p, "bot")) return nullptr;
    ++n;
  }
  for (const auto& p : o.exempt) {
    if (!add(s->exempt, p, "exempt")) return nullptr;
    s->has_exempt = true;
  }
  // An empty set matches nothing; RE2 wants at least one pattern to compile.
  if (n == 0) s->bots.Add("$^", nullptr);
  if (!s->exempt.Compile() || !s->bots.Compile()) {
    error_line = "the User-Agent patterns do not fit RE2's memory limit";
    return nullptr;
  }
  return std::unique_ptr<user_agent_filter>(new user_agent_filter(std::move(s), n));
}

bool user_agent_filter::match(std::string_view user_agent) const {
  if (user_agent.empty()) return true;
  const re2::StringPiece text(user_agent.data(), user_agent.size());
  RE2::Set::ErrorInfo info{};
  bool bot = sets_->bots.Match(text, nullptr, &info);
  if (!bot && info.kind == RE2::Set::kOutOfMemory) {
    // The DFA ran out of its memory budget: not called a bot, since a
    // limit of ours must never drop a real click (the tests show the
    // built-in list never gets here).
    return false;
  }
  if (bot && sets_->has_exempt && sets_->exempt.Match(text, nullptr)) bot = false;
  return bot;
}

bool user_agent_filter::is_bot(std::string_view user_agent) const {
  const std::uint64_t h = XXH3_64bits(user_agent.data(), user_agent.size());
  auto& slot = cache_[h % kCacheSlots];
  const std::uint64_t seen = slot.load(std::memory_order_relaxed);
  if (seen != 0 && (seen | 1) == (h | 1)) return (seen & 1) != 0;
  const bool bot = match(user_agent);
  slot.store((h & ~std::uint64_t{1}) | (bot ? 1 : 0), std::memory_order_relaxed);
  return bot;
}

}  // namespace adclick::ingest
