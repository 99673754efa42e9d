#include "recon/report.h"

#include <nlohmann/json.hpp>

namespace adclick::recon {

using json = nlohmann::json;

std::string_view to_string(trigger t) {
  switch (t) {
    case trigger::periodic: return "periodic";
    case trigger::api: return "api";
    case trigger::cli: return "cli";
  }
  return "unknown";
}

std::string_view to_string(run_state s) {
  switch (s) {
    case run_state::queued: return "queued";
    case run_state::running: return "running";
    case run_state::done: return "done";
    case run_state::failed: return "failed";
    case run_state::cancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

template <class E, std::size_t N>
std::optional<E> parse_enum(const std::string& s, const E (&all)[N]) {
  for (E e : all) {
    if (to_string(e) == s) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string to_json(const report& r) {
  json snap = json::array();
  for (const auto& p : r.snapshot) snap.push_back({{"partition", p.partition}, {"endOffset", p.end_offset}});
  json j = {
      {"id", r.id},
      {"trigger", to_string(r.by)},
      {"state", to_string(r.state)},
      {"error", r.error.empty() ? json(nullptr) : json(r.error)},
      {"requestedFromMs", r.requested_from_ms},
      {"requestedToMs", r.requested_to_ms},
      {"fromMs", r.from_ms},
      {"toMs", r.to_ms},
      {"createdMs", r.created_ms},
      {"startedMs", r.started_ms},
      {"durationMs", r.duration_ms},
      {"attempts", r.attempts},
      {"snapshot", snap},
      {"segmentsRead", r.segments_read},
      {"recordsRead", r.records_read},
      {"bytesRead", r.bytes_read},
      {"recordsInRange", r.records_in_range},
      {"duplicatesFound", r.duplicates_found},
      {"lateIncluded", r.late_included},
      {"corruptStretches", r.corrupt_stretches},
      {"corruptBytes", r.corrupt_bytes},
      {"rowsChecked", r.rows_checked},
      {"rowsCorrected", r.rows_corrected},
      {"driftNet", r.drift_net},
      {"driftAbs", r.drift_abs},
      {"clicksCounted", r.clicks_counted},
      {"dedupPeakEntries", r.dedup_peak_entries},
      {"reconciledThroughMs", r.reconciled_through_ms ? json(*r.reconciled_through_ms) : json(nullptr)},
  };
  return j.dump();
}

std::optional<report> report_from_json(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    report r;
    r.id = j.at("id").get<std::uint64_t>();
    static constexpr trigger kTriggers[] = {trigger::periodic, trigger::api, trigger::cli};
    static constexpr run_state kStates[] = {run_state::queued, run_state::running, run_state::done,
                                            run_state::failed, run_state::cancelled};
    const auto by = parse_enum(j.at("trigger").get<std::string>(), kTriggers);
    const auto st = parse_enum(j.at("state").get<std::string>(), kStates);
    if (!by || !st) return std::nullopt;
    r.by = *by;
    r.state = *st;
    if (!j.at("error").is_null()) r.error = j.at("error").get<std::string>();
    r.requested_from_ms = j.at("requestedFromMs").get<std::int64_t>();
    r.requested_to_ms = j.at("requestedToMs").get<std::int64_t>();
    r.from_ms = j.at("fromMs").get<std::int64_t>();
    r.to_ms = j.at("toMs").get<std::int64_t>();
    r.created_ms = j.at("createdMs").get<std::int64_t>();
    r.started_ms = j.at("startedMs").get<std::int64_t>();
    r.duration_ms = j.at("durationMs").get<std::int64_t>();
    r.attempts = j.at("attempts").get<std::uint32_t>();
    for (const auto& p : j.at("snapshot")) {
      r.snapshot.push_back({p.at("partition").get<std::uint32_t>(), p.at("endOffset").get<std::uint64_t>()});
    }
    r.segments_read = j.at("segmentsRead").get<std::uint64_t>();
    r.records_read = j.at("recordsRead").get<std::uint64_t>();
    r.bytes_read = j.at("bytesRead").get<std::uint64_t>();
    r.records_in_range = j.at("recordsInRange").get<std::uint64_t>();
    r.duplicates_found = j.at("duplicatesFound").get<std::uint64_t>();
    r.late_included = j.at("lateIncluded").get<std::uint64_t>();
    r.corrupt_stretches = j.at("corruptStretches").get<std::uint64_t>();
    r.corrupt_bytes = j.at("corruptBytes").get<std::uint64_t>();
    r.rows_checked = j.at("rowsChecked").get<std::uint64_t>();
    r.rows_corrected = j.at("rowsCorrected").get<std::uint64_t>();
    r.drift_net = j.at("driftNet").get<std::int64_t>();
    r.drift_abs = j.at("driftAbs").get<std::uint64_t>();
    r.clicks_counted = j.at("clicksCounted").get<std::uint64_t>();
    r.dedup_peak_entries = j.at("dedupPeakEntries").get<std::uint64_t>();
    if (!j.at("reconciledThroughMs").is_null()) {
      r.reconciled_through_ms = j.at("reconciledThroughMs").get<std::int64_t>();
    }
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace adclick::recon
