#pragma once
// The click path: parse, look up the ad, verify the signature, dedup, append
// to the log, and decide the outcome. Knows nothing of HTTP: the front end
// turns the outcome into a 302, 404 or 400.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "adclick/click_log.h"
#include "adclick/click_record.h"
#include "state/state_format.h"

namespace adclick::base {
class counter;
class histogram;
}  // namespace adclick::base

namespace adclick::ingest {

class ad_registry;
class dedup_index;
class partitioner;
class signer;
class outcome_tallies;

enum class click_outcome {
  counted,        // new, valid, durable in the log
  duplicate,      // its (adId, impressionId) was seen before: not counted
  bad_signature,  // malformed, unknown key, wrong MAC, or exp too far ahead: not counted
  expired,        // a genuine signature past its exp: not counted
  unknown_ad,     // no such ad, or paused: 404
  malformed,      // bad parameters: 400
  unrecorded,     // the log refused the append (disk full, I/O error): not counted
};
inline constexpr int kClickOutcomes = 7;
std::string_view to_string(click_outcome o);

struct click_params {
  std::uint64_t ad_id = 0;
  std::string_view impression_id;
  std::string_view signature;
};

// Parses a /click query string: adId (decimal, [1, 2^63)), impressionId (1 to
// 128 of [A-Za-z0-9._~-]) and signature (at most 512 bytes), each exactly
// once. Other parameters are ignored. False with a reason when malformed.
// The views point into `query`.
[[nodiscard]] bool parse_click_query(std::string_view query, click_params& out, std::string& why);

struct click_context {
  client_address client;
  std::string_view user_agent;  // truncated to kMaxUserAgentLength before append
  std::int64_t now_ms = 0;      // arrival time: the click's event time
};

struct click_result {
  click_outcome outcome = click_outcome::malformed;
  std::shared_ptr<const state::ad_record> ad;  // the ad for every outcome but unknown_ad/malformed
  std::string reason;                          // malformed: what is wrong
};

// Thread safety: process() from any number of threads at once.
class click_processor {
 public:
  click_processor(log::click_log& log, ad_registry& ads, dedup_index& dedup, partitioner& parts,
                  const signer& sig, outcome_tallies& tallies);

  // Calls done exactly once: inline when the outcome is known without the
  // log, else on the log's flusher thread once the append is durable (or
  // failed); done must not block.
  void process(std::string_view query, const click_context& ctx,
               std::function<void(click_result)> done);

  std::uint64_t outcome_count(click_outcome o) const;

 private:
  void finish(click_result&& r, const std::function<void(click_result)>& done);

  log::click_log& log_;
  ad_registry& ads_;
  dedup_index& dedup_;
  partitioner& parts_;
  const signer& sig_;
  outcome_tallies& tallies_;
  base::counter* outcomes_[kClickOutcomes];  // metrics, owned by the registry
  base::histogram* append_latency_;
};

}  // namespace adclick::ingest
