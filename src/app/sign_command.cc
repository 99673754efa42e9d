#include <cstdio>

#include "app/commands.h"
#include "base/ad_id.h"
#include "base/duration.h"
#include "base/wall_time.h"
#include "ingest/click_processor.h"
#include "ingest/signature.h"

namespace adclick::app {

int sign_click_url(const config::config& cfg, const sign_request& r) {
  auto ttl = base::parse_duration(r.ttl);
  if (!ttl || ttl->count() < 1000 || *ttl > cfg.signing.max_validity) {
    std::fprintf(stderr, "adclick: --ttl must be a duration from 1s to signing.max_validity (%s)\n", r.ttl.c_str());
    return 2;
  }
  const auto ad = base::parse_ad_id(r.ad);
  if (!ad) {
    std::fprintf(stderr, "adclick: --ad: %s\n", std::string(base::kAdIdRule).c_str());
    return 2;
  }
  const std::string impression = r.impression.empty() ? ingest::new_impression_id() : r.impression;
  // The impression id must pass the rule /click applies.
  std::string why;
  ingest::click_params check;
  if (!ingest::parse_click_query("adId=1&impressionId=" + impression + "&signature=x", check, why)) {
    std::fprintf(stderr, "adclick: --impression: %s\n", why.c_str());
    return 2;
  }
  const ingest::signer signer(cfg.signing.keys, cfg.signing.current_key, cfg.signing.max_validity.count() / 1000);
  const std::int64_t exp = base::wall_now_s() + ttl->count() / 1000;
  std::string base_url = r.base_url.empty() ? "http://" + config::to_string(cfg.server.listen) : r.base_url;
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  std::printf("%s/click?adId=%llu&impressionId=%s&signature=%s\n", base_url.c_str(),
              static_cast<unsigned long long>(*ad), impression.c_str(), signer.sign(*ad, impression, exp).c_str());
  return 0;
}

}  // namespace adclick::app
