#include "testutil/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace adclick::testutil {

process::process(std::vector<std::string> argv, std::string output_file, bool stdin_pipe)
    : output_file_(std::move(output_file)) {
  const int out = ::open(output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot create " + output_file_);
  int in[2] = {-1, -1};
  if (stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (stdin_pipe) {
      ::dup2(in[0], 0);
    } else {
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(args[0], args.data());  // a bare name is looked up in PATH
    ::_exit(127);
  }
  ::close(out);
  if (stdin_pipe) {
    ::close(in[0]);
    stdin_ = in[1];
  }
}

void process::write_stdin(const std::string& text) {
  std::size_t done = 0;
  while (stdin_ >= 0 && done < text.size()) {
    const ssize_t n = ::write(stdin_, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
}

process::~process() {
  if (stdin_ >= 0) ::close(stdin_);
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    (void)wait(std::chrono::seconds(10));
  }
}

void process::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string process::output() const {
  std::ifstream in(output_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) return true;
    int status = 0;
    if (!exit_code_ && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (exit_code_) return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) {
  char name[] = "/tmp/adclick-run-XXXXXX";
  const int fd = ::mkstemp(name);
  if (fd >= 0) ::close(fd);
  process p(argv, name);
  auto code = p.wait(timeout);
  std::string out = p.output();
  ::unlink(name);
  return {code ? *code : -1, out};
}

adclick_server::adclick_server(const std::string& config_path, const std::string& output_file,
                               const std::string& binary)
    : proc_({binary, "serve", "--config", config_path}, output_file) {
  if (!proc_.wait_for_output("serve: ready")) return;
  // "serve: listening on HOST:PORT"
  const std::string out = proc_.output();
  const auto at = out.find("serve: listening on ");
  if (at == std::string::npos) return;
  const auto eol = out.find('\n', at);
  const std::string addr = out.substr(at, eol - at);
  const auto colon = addr.rfind(':');
  if (colon != std::string::npos) port_ = static_cast<std::uint16_t>(std::stoi(addr.substr(colon + 1)));
}

}  // namespace adclick::testutil
