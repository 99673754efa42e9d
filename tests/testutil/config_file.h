#pragma once
// Writes a small valid adclick config for integration tests.

#include <fstream>
#include <string>

namespace adclick::testutil {

inline constexpr const char* kTestAdminToken = "test-admin-token-0123456789";
inline constexpr const char* kTestSigningKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

// A config listening on a free port of 127.0.0.1 with its data under
// `dir`/data; `extra` is appended (more tables). Returns the file's path.
inline std::string write_test_config(const std::string& dir, const std::string& extra = "",
                                     const std::string& server_extra = "") {
  const std::string path = dir + "/adclick.toml";
  std::ofstream out(path);
  out << "[server]\nlisten = \"127.0.0.1:0\"\n" << server_extra << "\n"
      << "[storage]\ndata_dir = \"" << dir << "/data\"\n\n"
      << "[signing]\ncurrent_key = \"k1\"\nkeys = { k1 = \"" << kTestSigningKey << "\" }\n\n"
      << "[auth]\nadmin_token = \"" << kTestAdminToken << "\"\n"
      << "advertiser_keys = { \"adv-1\" = \"test-key-for-adv-1-xyz\", \"adv-2\" = \"test-key-for-adv-2-xyz\" }\n\n"
      << extra;
  return path;
}

}  // namespace adclick::testutil
