#include "loadgen_http.h"

#include <algorithm>
#include <charconv>

namespace adclick::bench {
namespace {

constexpr std::size_t kMaxLine = 4096;  // a chunk-size or trailer line

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// Whether the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void response_parser::reset() {
  phase_ = phase::headers;
  status_ = 0;
  has_location_ = false;
  keep_alive_ = true;
  remaining_ = 0;
  line_.clear();
  body_start_.clear();
  error_ = {};
}

void response_parser::keep(std::string_view bytes) {
  if (body_start_.size() < kMaxKeptBody) {
    body_start_.append(bytes.substr(0, kMaxKeptBody - body_start_.size()));
  }
}

response_parser::state response_parser::parse_headers(std::string_view block) {
  // block: status line and header lines, each ending in CRLF, without the final CRLF.
  auto eol = block.find("\r\n");
  std::string_view status_line = block.substr(0, eol);
  block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return fail("bad status line");
  }
  const bool http10 = status_line[7] == '0';
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status_);
  if (ec != std::errc() || p != status_line.data() + 12 || status_ < 100 || status_ > 999) {
    return fail("bad status code");
  }
  keep_alive_ = !http10;
  bool chunked = false;
  bool have_length = false;
  std::uint64_t length = 0;
  while (!block.empty()) {
    eol = block.find("\r\n");
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("bad header line");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      auto [q, ec2] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec2 != std::errc() || q != value.data() + value.size() || (have_length && n != length)) {
        return fail("bad Content-Length");
      }
      have_length = true;
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = has_token(value, "chunked");
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) keep_alive_ = false;
      if (has_token(value, "keep-alive")) keep_alive_ = true;
    } else if (iequals(name, "location")) {
      has_location_ = !value.empty();
    }
  }
  if ((status_ >= 100 && status_ < 200) || status_ == 204 || status_ == 304) {
    phase_ = phase::done;
  } else if (chunked) {
    phase_ = phase::chunk_size;
  } else if (have_length) {
    remaining_ = length;
    phase_ = length == 0 ? phase::done : phase::fixed_body;
  } else {
    // No length: the body is everything up to the end of the connection.
    keep_alive_ = false;
    phase_ = phase::body_to_eof;
  }
  return state::need_more;
}

response_parser::state response_parser::feed(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  for (;;) {
    std::string_view rest = data.substr(consumed);
    switch (phase_) {
      case phase::headers: {
        const auto end = rest.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (rest.size() > kMaxHeaderBytes) return fail("header block too large");
          return state::need_more;
        }
        if (end + 4 > kMaxHeaderBytes) return fail("header block too large");
        if (parse_headers(rest.substr(0, end + 2)) == state::error) return state::error;
        consumed += end + 4;
        if (status_ >= 100 && status_ < 200 && status_ != 101) {
          reset();  // an interim response (100 Continue): the real one follows
        }
        continue;
      }
      case phase::fixed_body:
      case phase::chunk_data: {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        keep(rest.substr(0, take));
        consumed += take;
        remaining_ -= take;
        if (remaining_ > 0) return state::need_more;
        phase_ = phase_ == phase::fixed_body ? phase::done : phase::chunk_data_end;
        continue;
      }
      case phase::chunk_size:
      case phase::chunk_data_end:
      case phase::trailers: {
        const auto nl = rest.find('\n');
        line_.append(rest.substr(0, nl));
        if (line_.size() > kMaxLine) return fail("chunk framing line too long");
        if (nl == std::string_view::npos) {
          consumed += rest.size();
          return state::need_more;
        }
        consumed += nl + 1;
        std::string_view line = line_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (phase_ == phase::chunk_data_end) {
          if (!line.empty()) return fail("missing CRLF after chunk");
          phase_ = phase::chunk_size;
        } else if (phase_ == phase::trailers) {
          if (line.empty()) phase_ = phase::done;
        } else {
          line = trim(line.substr(0, line.find(';')));
          std::uint64_t size = 0;
          auto [q, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
          if (line.empty() || ec != std::errc() || q != line.data() + line.size()) {
            return fail("bad chunk size");
          }
          remaining_ = size;
          phase_ = size == 0 ? phase::trailers : phase::chunk_data;
        }
        line_.clear();
        continue;
      }
      case phase::body_to_eof:
        keep(rest);
        consumed += rest.size();
        return state::need_more;
      case phase::done: return state::done;
    }
  }
}

response_parser::state response_parser::finish_at_eof() {
  if (phase_ == phase::body_to_eof || phase_ == phase::done) {
    phase_ = phase::done;
    return state::done;
  }
  return fail(phase_ == phase::headers ? "connection closed before a response"
                                       : "connection closed inside the body");
}

}  // namespace adclick::bench
