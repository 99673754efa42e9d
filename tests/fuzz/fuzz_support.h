#pragma once
// Shared by the fuzz targets: a scratch directory for the targets that need
// real files (RocksDB, log segments), on tmpfs when there is one, removed
// when the fuzzer exits; and a check that stops the run with a message.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace adclick::fuzz {

// The code under test logs what it refuses; at thousands of inputs a second
// that is all the fuzzer would do.
inline const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::off);
  return true;
}();

// Aborts (which libFuzzer reports as a crash, with the input) when an
// invariant does not hold.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

// A fresh directory, made once per process and deleted at exit. The name
// lives on the heap, never freed: the exit handler runs after static
// destructors.
inline const std::string& scratch_dir() {
  static const std::string& dir = *[] {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/adclick-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return new std::string(tmpl);
  }();
  return dir;
}

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace adclick::fuzz
