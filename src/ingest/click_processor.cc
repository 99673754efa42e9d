#include "ingest/click_processor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/ad_id.h"
#include "base/metrics.h"
#include "base/query_string.h"
#include "ingest/ad_registry.h"
#include "ingest/dedup_index.h"
#include "ingest/outcome_tallies.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"

namespace adclick::ingest {
namespace {

constexpr std::size_t kMaxSignature = 512;

bool impression_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-';
}

}  // namespace

std::string_view to_string(click_outcome o) {
  switch (o) {
    case click_outcome::counted: return "counted";
    case click_outcome::duplicate: return "duplicate";
    case click_outcome::bad_signature: return "bad_signature";
    case click_outcome::expired: return "expired";
    case click_outcome::unknown_ad: return "unknown_ad";
    case click_outcome::malformed: return "malformed";
    case click_outcome::unrecorded: return "unrecorded";
  }
  return "?";
}

bool parse_click_query(std::string_view query, click_params& out, std::string& why) {
  bool have_ad = false, have_imp = false, have_sig = false;
  // Each parameter once; unknown ones are ignored (trackers append their own).
  const auto once = [&](bool& have, std::string_view name) {
    if (have) why = std::string(name) + " given more than once";
    return !std::exchange(have, true);
  };
  const bool ok = base::for_each_query_param(query, [&](std::string_view name, std::string_view value) {
    if (name == "adId") {
      if (!once(have_ad, name)) return false;
      const auto id = base::parse_ad_id(value);
      if (!id) {
        why = base::kAdIdRule;
        return false;
      }
      out.ad_id = *id;
    } else if (name == "impressionId") {
      if (!once(have_imp, name)) return false;
      if (value.empty() || value.size() > kMaxImpressionIdLength) {
        why = "impressionId must be 1 to 128 characters";
        return false;
      }
      if (!std::all_of(value.begin(), value.end(), impression_char)) {
        why = "impressionId may hold only [A-Za-z0-9._~-]";
        return false;
      }
      out.impression_id = value;
    } else if (name == "signature") {
      if (!once(have_sig, name)) return false;
      if (value.empty() || value.size() > kMaxSignature) {
        why = "signature must be 1 to 512 characters";
        return false;
      }
      out.signature = value;
    }
    return true;
  });
  if (!ok) return false;
  if (!have_ad || !have_imp || !have_sig) {
    why = !have_ad ? "adId is missing" : !have_imp ? "impressionId is missing" : "signature is missing";
    return false;
  }
  return true;
}

click_processor::click_processor(log::click_log& log, ad_registry& ads, dedup_index& dedup,
                                 partitioner& parts, const signer& sig, outcome_tallies& tallies)
    : log_(log), ads_(ads), dedup_(dedup), parts_(parts), sig_(sig), tallies_(tallies) {
  auto& m = base::metrics();
  for (int i = 0; i < kClickOutcomes; ++i) {
    outcomes_[i] = &m.add_counter(
        "adclick_clicks_total", "Clicks by outcome",
        fmt::format("outcome=\"{}\"", to_string(static_cast<click_outcome>(i))));
  }
  append_latency_ = &m.add_histogram("adclick_click_append_seconds",
                                     "From the click's append to its durable acknowledgement");
}

std::uint64_t click_processor::outcome_count(click_outcome o) const {
  return outcomes_[static_cast<int>(o)]->value();
}

void click_processor::finish(click_result&& r, const std::function<void(click_result)>& done) {
  outcomes_[static_cast<int>(r.outcome)]->add();
  done(std::move(r));
}

void click_processor::process(std::string_view query, const click_context& ctx,
                              std::function<void(click_result)> done) {
  click_result res;
  click_params p;
  if (!parse_click_query(query, p, res.reason)) {
    res.outcome = click_outcome::malformed;
    return finish(std::move(res), done);
  }
  res.ad = ads_.find(p.ad_id);
  if (!res.ad || res.ad->paused) {
    res.ad.reset();
    res.outcome = click_outcome::unknown_ad;
    return finish(std::move(res), done);
  }
  parsed_signature ps;
  const auto check = sig_.verify(p.ad_id, p.impression_id, p.signature, ctx.now_ms / 1000, &ps);
  if (check != signature_check::ok) {
    const bool expired = check == signature_check::expired;
    res.outcome = expired ? click_outcome::expired : click_outcome::bad_signature;
    tallies_.add(p.ad_id, ctx.now_ms,
                 expired ? state::tally_kind::expired : state::tally_kind::bad_signature);
    return finish(std::move(res), done);
  }
  auto reserved = dedup_.reserve(p.ad_id, p.impression_id, ps.expires_at_s);
  if (!reserved) {
    // The dedup state cannot be read: counting now could count a duplicate.
    spdlog::error("ingest: dedup lookup failed: {}", reserved.error().message());
    res.outcome = click_outcome::unrecorded;
    tallies_.add(p.ad_id, ctx.now_ms, state::tally_kind::unrecorded);
    return finish(std::move(res), done);
  }
  if (*reserved == reserve_result::duplicate) {
    res.outcome = click_outcome::duplicate;
    tallies_.add(p.ad_id, ctx.now_ms, state::tally_kind::duplicate);
    return finish(std::move(res), done);
  }
  click_record rec;
  rec.event_time_ms = ctx.now_ms;
  rec.ad_id = p.ad_id;
  rec.expires_at_s = ps.expires_at_s;
  rec.key_id.assign(ps.key_id);
  rec.impression_id.assign(p.impression_id);
  rec.client = ctx.client;
  rec.user_agent.assign(ctx.user_agent.substr(0, kMaxUserAgentLength));
  const auto partition = parts_.partition_for(p.ad_id, p.impression_id, ctx.now_ms);
  const auto t0 = std::chrono::steady_clock::now();
  std::string imp(p.impression_id);
  log_.append(partition, rec,
              [this, res = std::move(res), imp = std::move(imp), ad_id = p.ad_id, partition,
               now_ms = ctx.now_ms, t0, done = std::move(done)](std::error_code ec,
                                                                 log::offset_t off) mutable {
                append_latency_->observe_ns(static_cast<std::uint64_t>(
                    (std::chrono::steady_clock::now() - t0).count()));
                if (ec) {
                  dedup_.withdraw(ad_id, imp);
                  tallies_.add(ad_id, now_ms, state::tally_kind::unrecorded);
                  res.outcome = click_outcome::unrecorded;
                } else {
                  dedup_.appended(ad_id, imp, partition, off);
                  res.outcome = click_outcome::counted;
                }
                finish(std::move(res), done);
              });
}

}  // namespace adclick::ingest
