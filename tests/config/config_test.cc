#include "config/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace {

using namespace adclick::config;
using namespace std::chrono_literals;

constexpr std::string_view kSource = "test.toml";
constexpr std::string_view kKeyBase64 = "MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXY=";
constexpr std::string_view kKeyBytes = "1234567890abcdefghijklmnopqrstuv";
constexpr std::string_view kAdminToken = "admin-token-0123456789";

// An environment that holds exactly `vars`.
env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

const env_lookup kEmptyEnv = fake_env({});

// A TOML document made of the smallest valid config (the required keys)
// with `overrides` applied: {"table.key", "<TOML value>"} replaces or adds
// a key; an empty value removes it.
std::string make_toml(const std::vector<std::pair<std::string, std::string>>& overrides = {}) {
  std::vector<std::pair<std::string, std::string>> entries = {
      {"signing.current_key", "\"k1\""},
      {"signing.keys", "{ k1 = \"" + std::string(kKeyBase64) + "\" }"},
      {"auth.admin_token", "\"" + std::string(kAdminToken) + "\""},
  };
  for (const auto& [key, value] : overrides) {
    const auto it = std::find_if(entries.begin(), entries.end(),
                                 [&key = key](const auto& e) { return e.first == key; });
    if (it != entries.end()) {
      it->second = value;
    } else {
      entries.emplace_back(key, value);
    }
  }
  std::vector<std::string> tables;
  std::map<std::string, std::string> body;
  for (const auto& [key, value] : entries) {
    if (value.empty()) continue;
    const auto dot = key.find('.');
    const auto table = key.substr(0, dot);
    if (body.find(table) == body.end()) tables.push_back(table);
    body[table] += key.substr(dot + 1) + " = " + value + "\n";
  }
  std::string text;
  for (const auto& t : tables) text += "[" + t + "]\n" + body[t];
  return text;
}

struct parsed {
  adclick::result<config> result;
  std::string error_line;
};

parsed parse(const std::string& text, const env_lookup& env = kEmptyEnv) {
  std::string error_line;
  auto r = parse_config(text, kSource, error_line, env);
  return {std::move(r), std::move(error_line)};
}

std::string prefix(std::string_view key) {
  return "config " + std::string(kSource) + ": " + std::string(key) + ": ";
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

TEST_CASE("a config with only the required keys gets every default", "[config]") {
  const auto p = parse(make_toml());
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  const config& c = *p.result;

  CHECK(c.server.listen == endpoint{"127.0.0.1", 8080});
  CHECK(c.server.threads == 2);
  CHECK(c.server.io == io_model::per_thread);
  CHECK(c.server.max_connections == 10000);
  CHECK(c.server.header_timeout == 10s);
  CHECK(c.server.idle_timeout == 60s);
  CHECK(c.server.max_header_size == 8 * 1024);
  CHECK(c.server.max_body_size == 1024 * 1024);
  CHECK_FALSE(c.server.tls_cert.has_value());
  CHECK_FALSE(c.server.tls_key.has_value());
  CHECK_FALSE(c.server.redirect_listen.has_value());
  CHECK(c.storage.data_dir == "./data");
  CHECK_FALSE(c.storage.ads_file.has_value());
  CHECK_FALSE(c.storage.archive_dir.has_value());
  CHECK(c.log.partitions == 8);
  CHECK(c.log.durability == log_durability::sync);
  CHECK(c.log.retention == 7 * 24h);
  CHECK(c.log.segment_size == 64ULL << 20);
  CHECK(c.log.segment_age == 1h);
  CHECK(c.log.batch_max_bytes == 1ULL << 20);
  CHECK(c.log.batch_max_delay == 0ms);
  CHECK(c.log.preallocate == 2ULL << 20);
  CHECK(c.log.journal_size == 32ULL << 20);
  CHECK(c.log.append_timeout == std::chrono::seconds(5));
  CHECK(c.signing.current_key == "k1");
  CHECK(c.signing.keys == std::map<std::string, std::string>{{"k1", std::string(kKeyBytes)}});
  CHECK(c.signing.max_validity == 24h);
  CHECK(c.ingest.hot_ad_rate == 5000);
  CHECK(c.ingest.hot_fanout == 4);
  CHECK(c.ingest.hot_ads.empty());
  CHECK(c.aggregation.shards == 2);
  CHECK(c.aggregation.flush_interval == 1s);
  CHECK(c.aggregation.allowed_lateness == 60s);
  CHECK(c.aggregation.max_out_of_orderness == 5s);
  CHECK(c.reconcile.interval == 1h);
  CHECK(c.reconcile.lookback == 24h);
  CHECK(c.reconcile.max_read_rate == 256ULL << 20);
  CHECK(c.query.max_points == 100000);
  CHECK(c.auth.admin_token == kAdminToken);
  CHECK(c.auth.advertiser_keys.empty());
  CHECK(c.logging.level == log_level::info);
  CHECK_FALSE(uses_demo_secrets(c));
}

TEST_CASE("every key can be set", "[config]") {
  const auto p = parse(make_toml({
      {"server.listen", "\"[::1]:0\""},
      {"server.threads", "16"},
      {"server.io_model", "\"shared\""},
      {"server.max_connections", "1000000"},
      {"server.header_timeout", "\"1500ms\""},
      {"server.idle_timeout", "\"5m\""},
      {"server.max_header_size", "\"1MiB\""},
      {"server.max_body_size", "\"64MiB\""},
      {"server.tls_cert", "\"/etc/adclick/cert.pem\""},
      {"server.tls_key", "\"/etc/adclick/key.pem\""},
      {"server.redirect_listen", "\"0.0.0.0:80\""},
      {"storage.data_dir", "\"/var/lib/adclick\""},
      {"storage.ads_file", "\"ads.csv\""},
      {"storage.archive_dir", "\"/archive\""},
      {"log.partitions", "4096"},
      {"log.durability", "\"os\""},
      {"log.retention", "\"1m\""},
      {"log.segment_size", "\"4GiB\""},
      {"log.segment_age", "\"1s\""},
      {"log.batch_max_bytes", "\"256MiB\""},
      {"log.batch_max_delay", "\"0ms\""},
      {"signing.max_validity", "\"30d\""},
      {"ingest.hot_ad_rate", "1"},
      {"ingest.hot_fanout", "4096"},
      {"ingest.hot_ads", "[1, 9223372036854775807]"},
      {"aggregation.shards", "256"},
      {"aggregation.flush_interval", "\"10ms\""},
      {"aggregation.allowed_lateness", "\"1d\""},
      {"aggregation.max_out_of_orderness", "\"0s\""},
      {"reconcile.interval", "\"1s\""},
      {"reconcile.lookback", "\"1m\""},
      {"reconcile.max_read_rate", "\"1MiB\""},
      {"query.max_points", "10000000"},
      {"auth.advertiser_keys",
       "{ \"adv.1\" = \"key-of-adv-1-000000\", adv_2 = \"key-of-adv-2-000000\" }"},
      {"logging.level", "\"trace\""},
  }));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  const config& c = *p.result;
  CHECK(c.server.listen == endpoint{"::1", 0});
  CHECK(c.server.threads == 16);
  CHECK(c.server.io == io_model::shared);
  CHECK(c.server.max_connections == 1000000);
  CHECK(c.server.header_timeout == 1500ms);
  CHECK(c.server.idle_timeout == 5min);
  CHECK(c.server.max_header_size == 1ULL << 20);
  CHECK(c.server.max_body_size == 64ULL << 20);
  CHECK(c.server.tls_cert == "/etc/adclick/cert.pem");
  CHECK(c.server.tls_key == "/etc/adclick/key.pem");
  CHECK(c.server.redirect_listen == endpoint{"0.0.0.0", 80});
  CHECK(c.storage.data_dir == "/var/lib/adclick");
  CHECK(c.storage.ads_file == "ads.csv");
  CHECK(c.storage.archive_dir == "/archive");
  CHECK(c.log.partitions == 4096);
  CHECK(c.log.durability == log_durability::os);
  CHECK(c.log.retention == 1min);
  CHECK(c.log.segment_size == 4ULL << 30);
  CHECK(c.log.segment_age == 1s);
  CHECK(c.log.batch_max_bytes == 256ULL << 20);
  CHECK(c.log.batch_max_delay == 0ms);
  CHECK(c.signing.max_validity == 30 * 24h);
  CHECK(c.ingest.hot_ad_rate == 1);
  CHECK(c.ingest.hot_fanout == 4096);
  CHECK(c.ingest.hot_ads == std::vector<std::uint64_t>{1, 9223372036854775807ULL});
  CHECK(c.aggregation.shards == 256);
  CHECK(c.aggregation.flush_interval == 10ms);
  CHECK(c.aggregation.allowed_lateness == 24h);
  CHECK(c.aggregation.max_out_of_orderness == 0s);
  CHECK(c.reconcile.interval == 1s);
  CHECK(c.reconcile.lookback == 1min);
  CHECK(c.reconcile.max_read_rate == 1ULL << 20);
  CHECK(c.query.max_points == 10000000);
  CHECK(c.auth.advertiser_keys ==
        std::map<std::string, std::string>{{"adv.1", "key-of-adv-1-000000"},
                                           {"adv_2", "key-of-adv-2-000000"}});
  CHECK(c.logging.level == log_level::trace);
}

TEST_CASE("listen addresses", "[config]") {
  const std::pair<std::string, endpoint> good[] = {
      {"127.0.0.1:8080", {"127.0.0.1", 8080}},   {"0.0.0.0:0", {"0.0.0.0", 0}},
      {"localhost:65535", {"localhost", 65535}}, {"[::]:443", {"::", 443}},
      {"[fe80::1]:80", {"fe80::1", 80}},
  };
  for (const auto& [text, expected] : good) {
    INFO(text);
    const auto p = parse(make_toml({{"server.listen", "\"" + text + "\""}}));
    INFO(p.error_line);
    REQUIRE(p.result.has_value());
    CHECK(p.result->server.listen == expected);
    CHECK(to_string(p.result->server.listen) == text);
  }
}

TEST_CASE("a listen address with a NUL byte in its host is refused", "[config]") {
  // Found by the time fuzz target: inet_pton read the host only up to the
  // NUL, so "127.0.0.1\0..." was taken for 127.0.0.1 and printed back as
  // something else.
  using namespace std::string_literals;
  CHECK_FALSE(parse_endpoint("127.0.0.1\0\0\0:\0\0\0:00"s).has_value());
  CHECK_FALSE(parse_endpoint("127.0.0.1\0:80"s).has_value());
  CHECK_FALSE(parse_endpoint("[::1\0]:80"s).has_value());
  CHECK(parse_endpoint("127.0.0.1:80").has_value());
}

TEST_CASE("the default config file parses and matches the built-in defaults", "[config]") {
  const auto p = parse(std::string(default_config_text()));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  const config& c = *p.result;
  CHECK(c.signing.current_key == "k1");
  CHECK(c.signing.keys.at("k1") == "0123456789abcdef0123456789abcdef");
  CHECK(c.auth.admin_token == "demo-admin-token-change-me");
  CHECK(c.auth.advertiser_keys.at("adv-1") == "demo-key-for-adv-1");
  CHECK(uses_demo_secrets(c));

  // Apart from the secrets, the shipped file states exactly the defaults.
  config defaults;
  defaults.signing.current_key = c.signing.current_key;
  defaults.signing.keys = c.signing.keys;
  defaults.auth = c.auth;
  CHECK(describe(c) == describe(defaults));
}

TEST_CASE("default_config_text is config/adclick.toml", "[config]") {
  std::ifstream file(std::string(ADCLICK_SOURCE_DIR) + "/config/adclick.toml", std::ios::binary);
  REQUIRE(file.good());
  std::ostringstream text;
  text << file.rdbuf();
  CHECK(default_config_text() == text.str());
}

TEST_CASE("uses_demo_secrets spots each demo secret", "[config]") {
  const auto p = parse(make_toml());
  REQUIRE(p.result.has_value());
  config c = *p.result;
  REQUIRE_FALSE(uses_demo_secrets(c));
  SECTION("signing key") { c.signing.keys["old"] = "0123456789abcdef0123456789abcdef"; }
  SECTION("admin token") { c.auth.admin_token = "demo-admin-token-change-me"; }
  SECTION("advertiser key") { c.auth.advertiser_keys["x"] = "demo-key-for-adv-1"; }
  CHECK(uses_demo_secrets(c));
}

TEST_CASE("bad values are refused with a message naming the key", "[config]") {
  struct bad_case {
    bad_case(std::string k, std::string v, std::string n = {})
        : key(std::move(k)), value(std::move(v)), named(n.empty() ? key : std::move(n)) {}
    std::string key;    // the key to set
    std::string value;  // its TOML value
    std::string named;  // the key the message must name
  };
  const std::vector<bad_case> cases = {
      {"server.listen", "\"8080\""},
      {"server.listen", "\"127.0.0.1\""},
      {"server.listen", "\"127.0.0.1:65536\""},
      {"server.listen", "\"127.0.0.1:\""},
      {"server.listen", "\"127.0.0.1:-1\""},
      {"server.listen", "\"127.0.0.1:80x\""},
      {"server.listen", "\"256.0.0.1:80\""},
      {"server.listen", "\"127.1:80\""},
      {"server.listen", "\"example.com:80\""},
      {"server.listen", "\"::1:80\""},
      {"server.listen", "\"[::1]\""},
      {"server.listen", "\"[::1]80\""},
      {"server.listen", "\"[127.0.0.1]:80\""},
      {"server.listen", "\" 127.0.0.1:80\""},
      {"server.listen", "8080"},
      {"server.threads", "0"},
      {"server.threads", "257"},
      {"server.threads", "\"2\""},
      {"server.threads", "2.0"},
      {"server.threads", "true"},
      {"server.threads", "[2]"},
      {"server.io_model", "\"Shared\""},
      {"server.io_model", "1"},
      {"server.max_connections", "0"},
      {"server.max_connections", "1000001"},
      {"server.header_timeout", "\"0s\""},
      {"server.header_timeout", "\"10\""},
      {"server.header_timeout", "10"},
      {"server.header_timeout", "\"-1s\""},
      {"server.header_timeout", "\"1.5s\""},
      {"server.idle_timeout", "\"0ms\""},
      {"server.max_header_size", "\"1023B\""},
      {"server.max_header_size", "\"2MiB\""},
      {"server.max_header_size", "8192"},
      {"server.max_header_size", "\"8KB\""},
      {"server.max_body_size", "\"512B\""},
      {"server.max_body_size", "\"65MiB\""},
      {"server.tls_cert", "\"\""},
      {"server.tls_cert", "1"},
      {"server.tls_key", "false"},
      {"server.redirect_listen", "\"nowhere\""},
      {"storage.data_dir", "\"\""},
      {"storage.data_dir", "1"},
      {"storage.ads_file", "\"\""},
      {"storage.archive_dir", "[]"},
      {"log.partitions", "0"},
      {"log.partitions", "4097"},
      {"log.partitions", "-1"},
      {"log.durability", "\"fsync\""},
      {"log.durability", "\"SYNC\""},
      {"log.durability", "1"},
      {"log.retention", "\"59s\""},
      {"log.retention", "\"7 days\""},
      {"log.segment_size", "\"4095B\""},
      {"log.segment_size", "\"5GiB\""},
      {"log.segment_age", "\"999ms\""},
      {"log.batch_max_bytes", "\"1KiB\""},
      {"log.batch_max_bytes", "\"257MiB\""},
      {"log.batch_max_delay", "\"1001ms\""},
      {"log.batch_max_delay", "\"2s\""},
      {"log.preallocate", "\"2GiB\""},
      {"log.preallocate", "0"},
      {"log.journal_size", "\"32KiB\""},
      {"log.append_timeout", "\"5ms\""},
      {"signing.current_key", "\"k2\""},
      {"signing.current_key", "\"\""},
      {"signing.current_key", "1"},
      {"signing.max_validity", "\"999ms\""},
      {"signing.max_validity", "\"31d\""},
      {"signing.keys", "\"k1\""},
      {"signing.keys", "{ k1 = \"not base64!\" }", "signing.keys.k1"},
      {"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\" }",
       "signing.keys.k1"},
      {"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY==\" }",
       "signing.keys.k1"},
      {"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFi Y2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }",
       "signing.keys.k1"},
      {"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWZ=\" }",
       "signing.keys.k1"},
      {"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFiY2Rl\" }", "signing.keys.k1"},  // 15 bytes
      {"signing.keys", "{ k1 = 5 }", "signing.keys.k1"},
      {"signing.keys", "{ \"bad kid\" = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }",
       "signing.keys"},
      {"signing.keys",
       "{ " + std::string(33, 'k') + " = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }",
       "signing.keys"},
      {"ingest.hot_ad_rate", "0"},
      {"ingest.hot_fanout", "0"},
      {"ingest.hot_fanout", "9"},  // more than log.partitions (8)
      {"ingest.hot_ads", "5"},
      {"ingest.hot_ads", "[0]", "ingest.hot_ads[0]"},
      {"ingest.hot_ads", "[1, \"2\"]", "ingest.hot_ads[1]"},
      {"ingest.hot_ads", "[1, -2]", "ingest.hot_ads[1]"},
      {"ingest.hot_ads", "[1, 2, 1]", "ingest.hot_ads[2]"},
      {"aggregation.shards", "0"},
      {"aggregation.shards", "9"},  // more than log.partitions (8)
      {"aggregation.flush_interval", "\"9ms\""},
      {"aggregation.flush_interval", "\"61m\""},
      {"aggregation.allowed_lateness", "\"25h\""},
      {"aggregation.max_out_of_orderness", "\"61m\""},
      {"reconcile.interval", "\"999ms\""},
      {"reconcile.lookback", "\"59s\""},
      {"reconcile.max_read_rate", "\"1023KiB\""},
      {"query.max_points", "0"},
      {"query.max_points", "10000001"},
      {"auth.admin_token", "\"short\""},
      {"auth.admin_token", "\"has spaces in this token\""},
      {"auth.admin_token", "5"},
      {"auth.admin_token", "\"env:\""},
      {"auth.advertiser_keys", "\"x\""},
      {"auth.advertiser_keys", "{ a = \"short\" }", "auth.advertiser_keys.a"},
      {"auth.advertiser_keys", "{ \"bad id!\" = \"0123456789abcdef\" }", "auth.advertiser_keys"},
      {"auth.advertiser_keys", "{ a = \"" + std::string(kAdminToken) + "\" }",
       "auth.advertiser_keys.a"},
      {"auth.advertiser_keys", "{ a = \"same-key-0123456789\", b = \"same-key-0123456789\" }",
       "auth.advertiser_keys.b"},
      {"logging.level", "\"verbose\""},
      {"logging.level", "\"INFO\""},
  };
  for (const auto& bad : cases) {
    INFO(bad.key << " = " << bad.value);
    const auto p = parse(make_toml({{bad.key, bad.value}}));
    INFO(p.error_line);
    REQUIRE_FALSE(p.result.has_value());
    CHECK(p.result.error() == config_errc::invalid_value);
    CHECK(starts_with(p.error_line, prefix(bad.named)));
    CHECK(p.error_line.find('\n') == std::string::npos);
  }
}

TEST_CASE("defaults bounded by log.partitions shrink to fit it", "[config]") {
  auto p = parse(make_toml({{"log.partitions", "1"}}));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  CHECK(p.result->ingest.hot_fanout == 1);
  CHECK(p.result->aggregation.shards == 1);

  // A value written in the file is not adjusted: it is refused.
  p = parse(make_toml({{"log.partitions", "1"}, {"aggregation.shards", "2"}}));
  CHECK(p.result.error() == config_errc::invalid_value);
  CHECK(starts_with(p.error_line, prefix("aggregation.shards")));
}

TEST_CASE("a signing key of exactly 16 bytes is long enough", "[config]") {
  const auto p = parse(make_toml({{"signing.keys", "{ k1 = \"MDEyMzQ1Njc4OWFiY2RlZg==\" }"}}));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  CHECK(p.result->signing.keys.at("k1") == "0123456789abcdef");
}

TEST_CASE("error messages say what is wrong and what was given", "[config]") {
  auto p = parse(make_toml({{"log.partitions", "0"}}));
  CHECK(p.error_line ==
        "config test.toml: log.partitions: must be an integer from 1 to 4096 (got 0)");

  p = parse(make_toml({{"server.threads", "\"2\""}}));
  CHECK(p.error_line ==
        "config test.toml: server.threads: must be an integer from 1 to 256 (got \"2\")");

  p = parse(make_toml({{"log.retention", "\"30s\""}}));
  CHECK(p.error_line ==
        "config test.toml: log.retention: must be a duration (integer + ms|s|m|h|d) of at least 1m "
        "(got \"30s\")");

  p = parse(make_toml({{"server.max_body_size", "\"1GiB\""}}));
  CHECK(p.error_line ==
        "config test.toml: server.max_body_size: must be a size (integer + B|KiB|MiB|GiB|TiB) "
        "from 1KiB to 64MiB (got \"1GiB\")");

  p = parse(make_toml({{"log.durability", "\"a\\nb\""}}));
  CHECK(p.error_line ==
        "config test.toml: log.durability: must be one of \"sync\", \"os\" (got \"a\\nb\")");

  p = parse(make_toml({{"aggregation.shards", "9"}}));
  CHECK(p.error_line ==
        "config test.toml: aggregation.shards: must be an integer from 1 to log.partitions (8) "
        "(got 9)");
}

TEST_CASE("secret values never appear in error messages", "[config]") {
  const std::string secret = "s3cr3t";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"auth.admin_token", "\"" + secret + "\""},
      {"auth.admin_token", "\"" + secret + " with a space\""},
      {"auth.advertiser_keys", "{ a = \"" + secret + "\" }"},
      {"auth.advertiser_keys",
       "{ a = \"" + secret + "-0123456789\", b = \"" + secret + "-0123456789\" }"},
      {"signing.keys", "{ k1 = \"" + secret + "!\" }"},
      {"signing.keys", "{ k1 = \"" + secret + "==\" }"},
  };
  for (const auto& [key, value] : cases) {
    INFO(key << " = " << value);
    const auto p = parse(make_toml({{key, value}}));
    INFO(p.error_line);
    REQUIRE_FALSE(p.result.has_value());
    CHECK(p.error_line.find(secret) == std::string::npos);
  }
}

TEST_CASE("unknown keys and tables are refused by name", "[config]") {
  auto p = parse(make_toml({{"log.partitons", "8"}}));
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown key 'log.partitons'");

  p = parse(make_toml() + "[srever]\nthreads = 2\n");
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown table 'srever'");

  p = parse("threads = 2\n" + make_toml());
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown key 'threads'");

  p = parse(make_toml() + "[server.tls]\ncert = \"x\"\n");
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown table 'server.tls'");

  p = parse(make_toml({{"server.\"max connections\"", "5"}}));
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown key 'server.\"max connections\"'");

  // An unknown key wins over a bad value elsewhere: the typo is the news.
  p = parse(make_toml({{"log.partitions", "0"}, {"query.max_point", "5"}}));
  CHECK(p.result.error() == config_errc::unknown_key);
  CHECK(p.error_line == "config test.toml: unknown key 'query.max_point'");

  p = parse("server = 1\n" + make_toml());
  CHECK(p.result.error() == config_errc::invalid_value);
  CHECK(p.error_line == "config test.toml: server: must be a table (got 1)");
}

TEST_CASE("TOML syntax errors name the line", "[config]") {
  auto p = parse("[server]\nthreads = 2\nlisten = = \"x\"\n");
  CHECK(p.result.error() == config_errc::syntax);
  CHECK(starts_with(p.error_line, "config test.toml: line 3: "));
  CHECK(p.error_line.find('\n') == std::string::npos);

  p = parse("[server]\nthreads = 2\nthreads = 3\n");
  CHECK(p.result.error() == config_errc::syntax);
  CHECK(starts_with(p.error_line, "config test.toml: line 3: "));
}

TEST_CASE("required values", "[config]") {
  auto p = parse(make_toml({{"signing.keys", ""}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("signing.keys")));

  p = parse(make_toml({{"signing.keys", "{}"}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("signing.keys")));

  p = parse(make_toml({{"signing.current_key", ""}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("signing.current_key")));

  p = parse(make_toml({{"auth.admin_token", ""}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("auth.admin_token")));
  CHECK(p.error_line.find("ADCLICK_ADMIN_TOKEN") != std::string::npos);

  p = parse("");
  CHECK(p.result.error() == config_errc::missing_value);
  // Every secret left out: one line names them all.
  CHECK(p.error_line == prefix("signing.keys, signing.current_key, auth.admin_token") +
                            "secrets not set; give each a value (or \"env:NAME\"; "
                            "ADCLICK_ADMIN_TOKEN for the admin token) "
                            "and start again");

  p = parse(make_toml({{"server.tls_cert", "\"cert.pem\""}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("server.tls_key")));

  p = parse(make_toml({{"server.tls_key", "\"key.pem\""}}));
  CHECK(p.result.error() == config_errc::missing_value);
  CHECK(starts_with(p.error_line, prefix("server.tls_cert")));
}

TEST_CASE("ADCLICK_ADMIN_TOKEN overrides auth.admin_token", "[config]") {
  const std::string from_env = "token-from-the-environment";

  auto p = parse(make_toml(), fake_env({{"ADCLICK_ADMIN_TOKEN", from_env}}));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  CHECK(p.result->auth.admin_token == from_env);

  // It also stands in for a missing key, and for a file value that would
  // itself be refused, since it is not used.
  p = parse(make_toml({{"auth.admin_token", ""}}), fake_env({{"ADCLICK_ADMIN_TOKEN", from_env}}));
  REQUIRE(p.result.has_value());
  CHECK(p.result->auth.admin_token == from_env);
  p = parse(make_toml({{"auth.admin_token", "\"env:UNSET\""}}),
            fake_env({{"ADCLICK_ADMIN_TOKEN", from_env}}));
  REQUIRE(p.result.has_value());
  CHECK(p.result->auth.admin_token == from_env);

  // The overriding value obeys the same rules, and the message says where it came from.
  p = parse(make_toml(), fake_env({{"ADCLICK_ADMIN_TOKEN", "short"}}));
  CHECK(p.result.error() == config_errc::invalid_value);
  CHECK(starts_with(p.error_line, prefix("auth.admin_token (from ADCLICK_ADMIN_TOKEN)")));

  // An advertiser key must differ from the effective admin token.
  p = parse(make_toml({{"auth.advertiser_keys", "{ a = \"" + from_env + "\" }"}}),
            fake_env({{"ADCLICK_ADMIN_TOKEN", from_env}}));
  CHECK(p.result.error() == config_errc::invalid_value);
  CHECK(starts_with(p.error_line, prefix("auth.advertiser_keys.a")));
}

TEST_CASE("env:NAME takes a secret from the environment", "[config]") {
  const auto env = fake_env({
      {"ADMIN", "admin-from-env-0123456789"},
      {"ADV_KEY", "advertiser-from-env-0123"},
      {"SIGNING", std::string(kKeyBase64)},
  });
  auto p = parse(make_toml({
                     {"auth.admin_token", "\"env:ADMIN\""},
                     {"auth.advertiser_keys", "{ adv-9 = \"env:ADV_KEY\" }"},
                     {"signing.keys", "{ k1 = \"env:SIGNING\" }"},
                 }),
                 env);
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  CHECK(p.result->auth.admin_token == "admin-from-env-0123456789");
  CHECK(p.result->auth.advertiser_keys.at("adv-9") == "advertiser-from-env-0123");
  CHECK(p.result->signing.keys.at("k1") == kKeyBytes);

  SECTION("an unset variable is named with its key") {
    const std::pair<std::string, std::string> refs[] = {
        {"auth.admin_token", "\"env:NOPE\""},
        {"auth.advertiser_keys", "{ adv-9 = \"env:NOPE\" }"},
        {"signing.keys", "{ k1 = \"env:NOPE\" }"},
    };
    for (const auto& [key, value] : refs) {
      INFO(key);
      p = parse(make_toml({{key, value}}), env);
      REQUIRE_FALSE(p.result.has_value());
      CHECK(p.result.error() == config_errc::missing_value);
      const std::string named = key == "auth.admin_token" ? key
                                : key == "signing.keys"   ? "signing.keys.k1"
                                                          : "auth.advertiser_keys.adv-9";
      CHECK(starts_with(p.error_line, prefix(named)));
      CHECK(p.error_line.find("NOPE") != std::string::npos);
    }
  }

  SECTION("a value from the environment is validated like one in the file") {
    p = parse(make_toml({{"signing.keys", "{ k1 = \"env:ADMIN\" }"}}), env);  // not base64
    CHECK(p.result.error() == config_errc::invalid_value);
    CHECK(starts_with(p.error_line, prefix("signing.keys.k1")));
    CHECK(p.error_line.find("admin-from-env") == std::string::npos);
  }
}

TEST_CASE("describe shows every key and masks every secret", "[config]") {
  const auto p = parse(make_toml({
      {"auth.advertiser_keys",
       "{ adv-1 = \"advertiser-one-secret\", \"adv.2\" = \"advertiser-two-secret\" }"},
      {"signing.keys", "{ k1 = \"" + std::string(kKeyBase64) +
                           "\", k0 = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }"},
      {"ingest.hot_ads", "[7, 9]"},
      {"storage.ads_file", "\"ads.csv\""},
  }));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  const std::string text = describe(*p.result);
  INFO(text);

  for (const std::string_view secret :
       {kAdminToken, std::string_view("advertiser-one-secret"),
        std::string_view("advertiser-two-secret"), kKeyBase64, kKeyBytes,
        std::string_view("MDEyMzQ1Njc4OWFi"), std::string_view("0123456789abcdef")}) {
    CHECK(text.find(secret) == std::string::npos);
  }
  CHECK(text.find("admin_token = \"***\"") != std::string::npos);
  CHECK(text.find("k0 = \"***\"") != std::string::npos);
  CHECK(text.find("k1 = \"***\"") != std::string::npos);
  CHECK(text.find("adv-1 = \"***\"") != std::string::npos);
  CHECK(text.find("\"adv.2\" = \"***\"") != std::string::npos);

  CHECK(text.find("listen = \"127.0.0.1:8080\"") != std::string::npos);
  CHECK(text.find("retention = \"7d\"") != std::string::npos);
  CHECK(text.find("segment_size = \"64MiB\"") != std::string::npos);
  CHECK(text.find("hot_ads = [7, 9]") != std::string::npos);
  CHECK(text.find("ads_file = \"ads.csv\"") != std::string::npos);
  CHECK(text.find("current_key = \"k1\"") != std::string::npos);
  CHECK(text.find("level = \"info\"") != std::string::npos);

  // With the masks replaced by real secrets, the description parses back to
  // the same config: it is complete and valid TOML.
  std::string again = text;
  const std::string masked = "\"***\"";
  const std::string replacements[] = {"\"" + std::string(kKeyBase64) + "\"",
                                      "\"" + std::string(kKeyBase64) + "\"",
                                      "\"" + std::string(kAdminToken) + "\"",
                                      "\"advertiser-one-secret\"", "\"advertiser-two-secret\""};
  // Order of appearance: signing.keys (k0, k1), admin_token, advertiser keys.
  for (const auto& r : replacements) {
    const auto at = again.find(masked);
    REQUIRE(at != std::string::npos);
    again.replace(at, masked.size(), r);
  }
  const auto back = parse(again);
  INFO(back.error_line);
  REQUIRE(back.result.has_value());
  CHECK(describe(*back.result) == text);
}

TEST_CASE("load_config_file reads a file and reports io errors", "[config]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("adclick-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "adclick.toml").string();
  {
    std::ofstream out(path);
    out << make_toml({{"log.partitions", "16"}});
  }
  std::string error_line;
  auto r = load_config_file(path, error_line, kEmptyEnv);
  INFO(error_line);
  REQUIRE(r.has_value());
  CHECK(r->log.partitions == 16);

  {
    std::ofstream out(path);
    out << make_toml({{"log.partitions", "0"}});
  }
  r = load_config_file(path, error_line, kEmptyEnv);
  CHECK(r.error() == config_errc::invalid_value);
  CHECK(starts_with(error_line, "config " + path + ": log.partitions: "));

  r = load_config_file((dir / "missing.toml").string(), error_line, kEmptyEnv);
  CHECK(r.error() == config_errc::io);
  CHECK(error_line.find("missing.toml") != std::string::npos);

  r = load_config_file(dir.string(), error_line, kEmptyEnv);
  CHECK(r.error() == config_errc::io);

  std::filesystem::remove_all(dir);
}

TEST_CASE("config_errc has a named category", "[config]") {
  const std::error_code ec = config_errc::unknown_key;
  CHECK(std::string(ec.category().name()) == "adclick.config");
  CHECK_FALSE(ec.message().empty());
}

TEST_CASE("the reference doc and the default file cover every key", "[config]") {
  const auto read = [](const std::string& relative) {
    std::ifstream file(std::string(ADCLICK_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
  };
  const std::string doc = read("docs/config-reference.md");
  const std::string toml(default_config_text());
  REQUIRE_FALSE(doc.empty());

  // describe() lists every key (unset optionals as "# key is not set").
  const config defaults;
  std::istringstream lines(describe(defaults));
  std::string line;
  int keys = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '[') continue;
    std::string key = line.substr(line[0] == '#' ? 2 : 0);
    key = key.substr(0, key.find(' '));
    INFO(key);
    ++keys;
    CHECK(doc.find("| `" + key + "` |") != std::string::npos);
    CHECK(toml.find(key + " = ") != std::string::npos);
  }
  CHECK(keys == 51);
}

TEST_CASE("the kafka backend: its keys, the node's roles, and what each needs", "[config]") {
  const std::vector<std::pair<std::string, std::string>> kafka = {
      {"log.backend", "\"kafka\""},
      {"kafka.bootstrap_servers", "\"127.0.0.1:9092\""},
      {"node.id", "\"node-1\""}};
  auto with = [&](std::vector<std::pair<std::string, std::string>> more) {
    auto all = kafka;
    all.insert(all.end(), more.begin(), more.end());
    return make_toml(all);
  };

  auto p = parse(make_toml());
  REQUIRE(p.result.has_value());
  CHECK(p.result->log.backend == log_backend::embedded);
  CHECK(p.result->kafka.topic == "clicks");
  CHECK(p.result->kafka.counts_topic == "adclick-counts");
  CHECK(p.result->kafka.group == "adclick");
  CHECK(p.result->node.roles == node_roles{true, true, true});

  p = parse(with({{"kafka.topic", "\"c2\""},
                  {"kafka.counts_topic", "\"k2\""},
                  {"kafka.group", "\"g2\""},
                  {"node.roles", "[\"query\", \"front\"]"},
                  {"kafka.properties",
                   "{ \"socket.timeout.ms\" = 5000, \"sasl.password\" = \"env:PW\", "
                   "\"api.version.request\" = true }"}}),
            fake_env({{"PW", "hunter2-secret"}}));
  INFO(p.error_line);
  REQUIRE(p.result.has_value());
  const auto& c = *p.result;
  CHECK(c.log.backend == log_backend::kafka);
  CHECK(c.kafka.bootstrap_servers == "127.0.0.1:9092");
  CHECK(c.kafka.topic == "c2");
  CHECK(c.kafka.counts_topic == "k2");
  CHECK(c.kafka.group == "g2");
  CHECK(c.node.id == "node-1");
  CHECK(c.node.roles == node_roles{true, false, true});
  CHECK(c.kafka.properties.at("socket.timeout.ms") == "5000");
  CHECK(c.kafka.properties.at("sasl.password") == "hunter2-secret");
  CHECK(c.kafka.properties.at("api.version.request") == "true");
  const auto text = describe(c);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("\"sasl.password\" = \"***\"") != std::string::npos);
  CHECK(text.find("roles = [\"front\", \"query\"]") != std::string::npos);

  SECTION("what the kafka backend needs") {
    p = parse(make_toml({{"log.backend", "\"kafka\""}, {"node.id", "\"n\""}}));
    CHECK(p.result.error() == config_errc::missing_value);
    CHECK(starts_with(p.error_line, prefix("kafka.bootstrap_servers")));
    p = parse(make_toml({{"log.backend", "\"kafka\""}, {"kafka.bootstrap_servers", "\"b:1\""}}));
    CHECK(p.result.error() == config_errc::missing_value);
    CHECK(starts_with(p.error_line, prefix("node.id")));
    p = parse(with({{"kafka.counts_topic", "\"clicks\""}}));
    CHECK(starts_with(p.error_line, prefix("kafka.counts_topic")));
    // The embedded log is one process doing everything.
    p = parse(make_toml({{"node.roles", "[\"front\"]"}}));
    CHECK(p.result.error() == config_errc::invalid_value);
    CHECK(starts_with(p.error_line, prefix("node.roles")));
  }

  SECTION("bad values are refused by name") {
    const std::pair<std::string, std::string> bad[] = {
        {"log.backend", "\"zookeeper\""},
        {"node.id", "\"has space\""},
        {"node.roles", "[]"},
        {"node.roles", "[\"front\", \"front\"]"},
        {"node.roles", "[\"frontend\"]"},
        {"kafka.topic", "\"bad/topic\""},
        {"kafka.group", "\"\""},
        {"kafka.properties", "5"},
    };
    for (const auto& [key, value] : bad) {
      INFO(key << " = " << value);
      p = parse(with({{key, value}}));
      CHECK(p.result.error() == config_errc::invalid_value);
      const std::string named = key == "node.roles" && value != "[]" ? "node.roles[" : key + ": ";
      CHECK(p.error_line.find(named) != std::string::npos);
    }
  }

  SECTION("librdkafka judges each property, and adclick keeps its own") {
    p = parse(with({{"kafka.properties", "{ \"socket.timeout.mss\" = 5 }"}}));
    CHECK(p.result.error() == config_errc::invalid_value);
    CHECK(p.error_line ==
          "config test.toml: kafka.properties.\"socket.timeout.mss\": librdkafka has no such property");
    p = parse(with({{"kafka.properties", "{ \"socket.timeout.ms\" = \"soon\" }"}}));
    CHECK(starts_with(p.error_line, prefix("kafka.properties.\"socket.timeout.ms\"")));
    p = parse(with({{"kafka.properties", "{ acks = \"1\" }"}}));
    CHECK(starts_with(p.error_line, prefix("kafka.properties.acks")));
    CHECK(p.error_line.find("adclick sets this property itself") != std::string::npos);
    p = parse(with({{"kafka.properties", "{ \"enable.idempotence\" = false }"}}));
    CHECK(starts_with(p.error_line, prefix("kafka.properties.\"enable.idempotence\"")));
    p = parse(with({{"kafka.properties", "{ \"sasl.password\" = 5.5 }"}}));
    CHECK(starts_with(p.error_line, prefix("kafka.properties.\"sasl.password\"")));
  }
}

TEST_CASE("reloadable_part takes keys, tokens and the log level, and names every other change",
          "[config]") {
  const auto running = parse(make_toml({{"kafka.properties", "{ \"sasl.password\" = \"one\" }"}}));
  REQUIRE(running.result.has_value());
  std::vector<std::string> restart;
  SECTION("only reloadable keys changed: nothing needs a restart") {
    const auto next =
        parse(make_toml({{"kafka.properties", "{ \"sasl.password\" = \"one\" }"},
                         {"signing.current_key", "\"k2\""},
                         {"signing.keys", "{ k1 = \"" + std::string(kKeyBase64) + "\", k2 = \"" +
                                              std::string(kKeyBase64) + "\" }"},
                         {"auth.admin_token", "\"another-admin-token-0123\""},
                         {"auth.advertiser_keys", "{ a = \"advertiser-a-key-0123\" }"},
                         {"logging.level", "\"debug\""}}));
    REQUIRE(next.result.has_value());
    const config merged = reloadable_part(*running.result, *next.result, restart);
    CHECK(restart.empty());
    CHECK(merged.signing.current_key == "k2");
    CHECK(merged.signing.keys.size() == 2);
    CHECK(merged.auth.admin_token == "another-admin-token-0123");
    CHECK(merged.auth.advertiser_keys.count("a") == 1);
    CHECK(merged.logging.level == log_level::debug);
  }
  SECTION("other keys: named, and kept as they run") {
    const auto next = parse(make_toml({{"kafka.properties", "{ \"sasl.password\" = \"two\" }"},
                                       {"log.partitions", "4"},
                                       {"server.tls_cert", "\"/c.pem\""},
                                       {"server.tls_key", "\"/k.pem\""},
                                       {"signing.max_validity", "\"2h\""}}));
    REQUIRE(next.result.has_value());
    const config merged = reloadable_part(*running.result, *next.result, restart);
    CHECK(restart == std::vector<std::string>{"log.partitions", "server.tls_cert", "server.tls_key",
                                              "signing.max_validity", "kafka.properties"});
    CHECK(merged.log.partitions == running.result->log.partitions);
    CHECK_FALSE(merged.server.tls_cert.has_value());
    CHECK(merged.kafka.properties.at("sasl.password") == "one");
  }
}
