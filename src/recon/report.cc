#include "recon/report.h"

#include <limits>
#include <type_traits>

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
  json holes = json::array();
  for (const auto& h : r.log_holes) {
    holes.push_back({{"partition", h.partition},
                     {"fromOffset", h.from_offset},
                     {"toOffset", h.to_offset},
                     {"uncheckedFromMs", h.unchecked_from_ms},
                     {"uncheckedToMs", h.unchecked_to_ms}});
  }
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
      {"logHoles", holes},
      {"rowsUnchecked", r.rows_unchecked},
      {"reconciledThroughMs", r.reconciled_through_ms ? json(*r.reconciled_through_ms) : json(nullptr)},
  };
  return j.dump();
}

// Integers read back strictly: a value that is not an integer, or does not
// fit the field, refuses the whole report (converting a double or an
// out-of-range number would be undefined behaviour, or silently wrong).
struct bad_field {};

template <class T>
T int_field(const json& j, const char* key) {
  const json& v = j.at(key);
  if constexpr (std::is_signed_v<T>) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) throw bad_field{};
      return static_cast<T>(u);
    }
    if (!v.is_number_integer()) throw bad_field{};
    const auto i = v.get<std::int64_t>();
    if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max()) throw bad_field{};
    return static_cast<T>(i);
  } else {
    if (!v.is_number_unsigned()) throw bad_field{};
    const auto u = v.get<std::uint64_t>();
    if (u > std::numeric_limits<T>::max()) throw bad_field{};
    return static_cast<T>(u);
  }
}

std::optional<report> report_from_json(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    report r;
    r.id = int_field<std::uint64_t>(j, "id");
    static constexpr trigger kTriggers[] = {trigger::periodic, trigger::api, trigger::cli};
    static constexpr run_state kStates[] = {run_state::queued, run_state::running, run_state::done,
                                            run_state::failed, run_state::cancelled};
    const auto by = parse_enum(j.at("trigger").get<std::string>(), kTriggers);
    const auto st = parse_enum(j.at("state").get<std::string>(), kStates);
    if (!by || !st) return std::nullopt;
    r.by = *by;
    r.state = *st;
    if (!j.at("error").is_null()) r.error = j.at("error").get<std::string>();
    r.requested_from_ms = int_field<std::int64_t>(j, "requestedFromMs");
    r.requested_to_ms = int_field<std::int64_t>(j, "requestedToMs");
    r.from_ms = int_field<std::int64_t>(j, "fromMs");
    r.to_ms = int_field<std::int64_t>(j, "toMs");
    r.created_ms = int_field<std::int64_t>(j, "createdMs");
    r.started_ms = int_field<std::int64_t>(j, "startedMs");
    r.duration_ms = int_field<std::int64_t>(j, "durationMs");
    r.attempts = int_field<std::uint32_t>(j, "attempts");
    for (const auto& p : j.at("snapshot")) {
      r.snapshot.push_back({int_field<std::uint32_t>(p, "partition"), int_field<std::uint64_t>(p, "endOffset")});
    }
    r.segments_read = int_field<std::uint64_t>(j, "segmentsRead");
    r.records_read = int_field<std::uint64_t>(j, "recordsRead");
    r.bytes_read = int_field<std::uint64_t>(j, "bytesRead");
    r.records_in_range = int_field<std::uint64_t>(j, "recordsInRange");
    r.duplicates_found = int_field<std::uint64_t>(j, "duplicatesFound");
    r.late_included = int_field<std::uint64_t>(j, "lateIncluded");
    r.corrupt_stretches = int_field<std::uint64_t>(j, "corruptStretches");
    r.corrupt_bytes = int_field<std::uint64_t>(j, "corruptBytes");
    r.rows_checked = int_field<std::uint64_t>(j, "rowsChecked");
    r.rows_corrected = int_field<std::uint64_t>(j, "rowsCorrected");
    r.drift_net = int_field<std::int64_t>(j, "driftNet");
    r.drift_abs = int_field<std::uint64_t>(j, "driftAbs");
    r.clicks_counted = int_field<std::uint64_t>(j, "clicksCounted");
    r.dedup_peak_entries = int_field<std::uint64_t>(j, "dedupPeakEntries");
    // Absent in reports written before holes were recorded.
    if (j.contains("logHoles")) {
      for (const auto& h : j.at("logHoles")) {
        hole_skip s;
        s.partition = int_field<std::uint32_t>(h, "partition");
        s.from_offset = int_field<std::uint64_t>(h, "fromOffset");
        s.to_offset = int_field<std::uint64_t>(h, "toOffset");
        s.unchecked_from_ms = int_field<std::int64_t>(h, "uncheckedFromMs");
        s.unchecked_to_ms = int_field<std::int64_t>(h, "uncheckedToMs");
        r.log_holes.push_back(s);
      }
      r.rows_unchecked = int_field<std::uint64_t>(j, "rowsUnchecked");
    }
    if (!j.at("reconciledThroughMs").is_null()) {
      r.reconciled_through_ms = int_field<std::int64_t>(j, "reconciledThroughMs");
    }
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  } catch (const bad_field&) {
    return std::nullopt;
  }
}

}  // namespace adclick::recon
