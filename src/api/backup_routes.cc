// POST /api/v1/backups (admin): an online backup into a directory of the
// server's host (app/backup.h says what it holds).

#include "api/auth.h"
#include "api/handlers.h"
#include "api/params.h"

namespace adclick::api::handlers {

// {"path": "/abs/dir"}: 201 with the manifest once the backup is complete.
void backups(const api_context& ctx, const http::request& req, http::responder&& respond) {
  if (authenticate(ctx, req.authorization).kind != caller::admin) return respond(unauthorized());
  json body;
  if (auto p = parse_object(req.body, {"path"}, body)) return respond(bad_request(*p));
  if (!body.contains("path") || !body["path"].is_string() ||
      body["path"].get<std::string>().empty()) {
    return respond(
        bad_request("path must be a string: an absolute directory path on the server's host"));
  }
  if (!ctx.backup) {
    return respond(
        http::json_error(503, "unavailable",
                         "backups are taken of the embedded log; with log.backend \"kafka\" "
                         "back up the topic and each node's data dir"));
  }
  backup_answer a = ctx.backup(body["path"].get<std::string>());
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
