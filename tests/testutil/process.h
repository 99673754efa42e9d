#pragma once
// Runs the real adclick binary (or any program) as a child process with its
// output in a file, for tests that start, signal and kill it.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace adclick::testutil {

class process {
 public:
  // Starts `argv[0]` with the arguments; stdout and stderr go to
  // `output_file`; stdin is /dev/null, or a pipe that write_stdin() feeds.
  process(std::vector<std::string> argv, std::string output_file, bool stdin_pipe = false);
  ~process();  // SIGKILLs the child if still running
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  void write_stdin(const std::string& text);
  void signal(int sig);
  // Waits for exit; returns the exit code, or 128 + signal. nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Everything the child printed so far.
  std::string output() const;
  // Waits until the output contains `text`; false on timeout or child exit.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  pid_t pid_ = -1;
  std::string output_file_;
  int stdin_ = -1;  // the write end of the child's stdin, when piped
  std::optional<int> exit_code_;
};

// Runs a command to completion; returns {exit code, stdout+stderr}.
std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Starts `adclick serve` on a config file and waits for "serve: ready"; the
// port is parsed from its "listening on" line.
class adclick_server {
 public:
  // `binary`: another adclick than this build's (e.g. an unpacked package's).
  adclick_server(const std::string& config_path, const std::string& output_file,
                 const std::string& binary = ADCLICK_BINARY);
  process& proc() { return proc_; }
  std::uint16_t port() const { return port_; }
  bool ready() const { return port_ != 0; }

 private:
  process proc_;
  std::uint16_t port_ = 0;
};

}  // namespace adclick::testutil
