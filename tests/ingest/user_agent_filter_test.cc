// The User-Agent filter: the built-in list (crawler-user-agents) against its
// own real instances, named crawlers and preview fetchers, and the browsers
// people click ads in.

#include "ingest/user_agent_filter.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace adclick::ingest;

namespace {

std::unique_ptr<user_agent_filter> make(const user_agent_filter_options& o = {}) {
  std::string error;
  auto f = user_agent_filter::create(o, error);
  INFO(error);
  REQUIRE(f != nullptr);
  return f;
}

// Current browsers on desktop and mobile, and the in-app browsers of the
// apps ads are clicked in: people.
const std::vector<std::string> kBrowsers = {
    // Chrome: Windows, macOS, Linux, Android, iOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/142.0.7444.77 "
    "Mobile/15E148 Safari/604.1",
    // Firefox: Windows, macOS, Linux, Android, iOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Android 16; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) FxiOS/145.0 "
    "Mobile/15E148 Safari/605.1.15",
    // Safari: macOS, iPhone, iPad
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/26.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.1 Mobile/15E148 "
    "Safari/604.1",
    // Edge: Windows, macOS, Android, iOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36 "
    "Edg/142.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 "
    "Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
    "Mobile Safari/537.36 "
    "EdgA/142.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/26.0 "
    "EdgiOS/142.0.3595.65 Mobile/15E148 Safari/605.1.15",
    // Samsung Internet; the Facebook and Instagram in-app browsers
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/28.0 "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 "
    "[FBAN/FBIOS;FBAV/520.0.0.38.101;FBBV/777;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/18.6;FBSS/"
    "3;FBID/phone;"
    "FBLC/en_US;FBOP/5;FBRV/0]",
    "Mozilla/5.0 (Linux; Android 16; Pixel 9 Build/BP2A.250605.031; wv) AppleWebKit/537.36 (KHTML, "
    "like Gecko) "
    "Version/4.0 Chrome/142.0.7444.102 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/530.0.0.48.74;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 "
    "Instagram 400.0.0.38.101 (iPhone15,3; iOS 18_6; en_US; en; scale=3.00; 1290x2796; 123456789)",
};

// Crawlers, link-preview fetchers, monitors and scripts, as they announce
// themselves.
const std::vector<std::string> kBots = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 "
    "Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
    "+https://perplexity.ai/perplexitybot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
    "(compatible; "
    "Bytespider; spider-feedback@bytedance.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    // iMessage's link preview
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
    "Version/9.0.1 "
    "Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0 A",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "TelegramBot (like TwitterBot)",
    // Microsoft Teams and Skype previews
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/51.0.2704.103 Safari/537.36 "
    "SkypeUriPreview Preview/0.5",
    "Pinterest/0.2 (+https://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Mastodon/4.3.1 (http.rb/5.2.0; +https://mastodon.social/)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/142.0.0.0 Safari/537.36",
    "curl/7.88.1",
    "Wget/1.21.3",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) "
    "Chrome/142.0.0.0 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0)",
    "AdsBot-Google (+http://www.google.com/adsbot.html)",
    "Mediapartners-Google",
};

}  // namespace

TEST_CASE(
    "user agents: every pattern of the built-in list compiles and matches its own real instances",
    "[ingest]") {
  const auto& list = known_agents();
  REQUIRE(list.size() > 1000);
  const auto f = make();
  CHECK(f->bot_patterns() == list.size());
  std::size_t instances = 0;
  for (const auto& a : list) {
    for (const auto& ua : a.instances) {
      INFO(a.pattern << " / " << ua);
      CHECK(f->match(ua));
      ++instances;
    }
  }
  CHECK(instances > 2000);
}

TEST_CASE("user agents: named crawlers and preview fetchers are bots, current browsers are people",
          "[ingest]") {
  const auto f = make();
  REQUIRE(kBots.size() >= 30);
  for (const auto& ua : kBots) {
    INFO(ua);
    CHECK(f->is_bot(ua));
    CHECK(f->is_bot(ua));  // cached: the same verdict
  }
  for (const auto& ua : kBrowsers) {
    INFO(ua);
    CHECK_FALSE(f->is_bot(ua));
    CHECK_FALSE(f->is_bot(ua));
  }
  CHECK(f->is_bot(""));  // no User-Agent at all
}

TEST_CASE("user agents: the config adds patterns and exempts agents", "[ingest]") {
  const std::string ours = "Mozilla/5.0 (compatible; AcmeLinkChecker/3.1)";
  const std::string partner =
      "Mozilla/5.0 (compatible; PartnerPreview/1.0) facebookexternalhit/1.1";
  CHECK_FALSE(make()->is_bot(ours));
  CHECK(make()->is_bot(partner));
  user_agent_filter_options o;
  o.extra = {"AcmeLinkChecker/"};
  o.exempt = {"PartnerPreview/"};
  const auto f = make(o);
  CHECK(f->is_bot(ours));
  CHECK_FALSE(f->is_bot(partner));
  CHECK(f->is_bot("facebookexternalhit/1.1"));
  CHECK(f->bot_patterns() == known_agents().size() + 1);

  SECTION("without the built-in list") {
    user_agent_filter_options only;
    only.builtin = false;
    only.extra = {"AcmeLinkChecker/"};
    const auto g = make(only);
    CHECK(g->is_bot(ours));
    CHECK_FALSE(g->is_bot("facebookexternalhit/1.1"));
    CHECK(g->is_bot(""));
  }
  SECTION("a pattern that does not compile is named") {
    user_agent_filter_options bad;
    bad.extra = {"Acme(Link"};
    std::string error;
    CHECK(user_agent_filter::create(bad, error) == nullptr);
    CHECK_THAT(error, Catch::Contains("Acme(Link") && Catch::Contains("does not compile"));
  }
}
