// POST /api/v1/backups (admin): an online backup into a directory of the
// server's host (app/backup.h says what it holds).

#include <optional>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/params.h"
#include "base/size.h"

namespace adclick::api::handlers {
namespace {
constexpr std::uint64_t kDefaultRate = 64ULL << 20;  // bytes/s: see README, "Backup and restore"
// Slower would hold the log's segments (the backup pins them) for hours.
constexpr std::uint64_t kMinRate = 1ULL << 20;
}  // namespace

// {"path": "/abs/dir", "maxRate": "64MiB"}: 201 with the manifest once the
// backup is complete. maxRate (per second; "0B": no limit) paces its reads
// and copies.
void backups(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  json body;
  if (auto p = parse_object(req.body, {"path", "maxRate"}, body)) return respond(bad_request(*p));
  if (!body.contains("path") || !body["path"].is_string() ||
      body["path"].get<std::string>().empty()) {
    return respond(
        bad_request("path must be a string: an absolute directory path on the server's host"));
  }
  std::uint64_t max_rate = kDefaultRate;
  if (body.contains("maxRate")) {
    std::optional<std::uint64_t> rate;
    if (body["maxRate"].is_string()) {
      if (auto r = base::parse_size(body["maxRate"].get<std::string>())) rate = *r;
    }
    if (!rate || (*rate != 0 && *rate < kMinRate)) {
      return respond(bad_request(
          "maxRate must be a size per second from \"1MiB\", e.g. \"64MiB\" (\"0B\": no limit)"));
    }
    max_rate = *rate;
  }
  if (!ctx.backup) {
    return respond(
        http::json_error(503, "unavailable",
                         "backups are taken of the embedded log; with log.backend \"kafka\" "
                         "back up the topic and each node's data dir"));
  }
  backup_answer a = ctx.backup(body["path"].get<std::string>(), max_rate);
  if (a.status == 201) {
    http::response resp = json_response(201, json::parse(a.body));
    return respond(std::move(resp));
  }
  const char* code = a.status == 400   ? "bad_request"
                     : a.status == 409 ? "conflict"
                                       : "backup_failed";
  respond(http::json_error(a.status, code, a.body));
}

}  // namespace adclick::api::handlers
