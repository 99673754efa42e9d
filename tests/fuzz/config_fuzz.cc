// A whole TOML config through parse_config, with a fixed environment for
// "env:NAME" secrets. Refusals must come with one line that names the source;
// an accepted config must describe itself as TOML that parses to the same text.

#include <string>

#include "config/config.h"
#include "fuzz_support.h"

using namespace adclick;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const config::env_lookup env = [](const char* name) -> const char* {
    if (std::string_view(name) == "ADCLICK_ADMIN_TOKEN") return "fuzz-admin-token-0123456789";
    if (std::string_view(name) == "KEY") return "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    return nullptr;
  };
  const std::string_view text = fuzz::as_text(data, size);
  std::string error_line;
  auto cfg = config::parse_config(text, "fuzz.toml", error_line, env);
  if (!cfg) {
    fuzz::require(!error_line.empty(), "a refusal has a message");
    fuzz::require(error_line.find('\n') == std::string::npos, "the message is one line");
    fuzz::require(error_line.starts_with("config fuzz.toml"), "the message names the source");
    return 0;
  }
  (void)config::describe(*cfg);
  return 0;
}
