// Writes the binary seeds of the log and state targets into
// tests/fuzz/corpus (run by hand after a format change; the seeds are kept
// in the repository): a real log with a sealed segment, its index and its
// commit journal, encoded RocksDB rows, and a small ads snapshot.
//
//   build-fuzz/tests/fuzz/make_fuzz_seeds tests/fuzz/corpus

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "log/record_format.h"
#include "log/segmented_log.h"
#include "recon/report.h"
#include "state/ads_snapshot.h"
#include "state/state_format.h"

using namespace adclick;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_seed(const fs::path& dir, const std::string& name, std::string_view bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string trim_zeros(std::string s) {
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const std::string dir = fuzz::scratch_dir() + "/seedlog";
  log::log_options o;
  o.dir = dir;
  o.partitions = 1;
  o.mode = log::durability::sync;
  o.preallocate = 0;
  o.segment_size = 400;  // rolls after a few records: a sealed segment with an index
  o.checkpoint_bytes = 64 << 10;
  log::recovery_report rep;
  std::string error_line;
  auto lg = log::segmented_log::open(o, rep, error_line);
  fuzz::require(bool(lg), "seed log opens");
  (*lg)->start();
  for (int i = 0; i < 12; ++i) {
    click_record r;
    r.event_time_ms = 1'795'900'000'000 + i * 1000;
    r.ad_id = 1 + i % 2;
    r.expires_at_s = 1'795'903'600;
    r.key_id = "k1";
    r.impression_id = "imp-" + std::to_string(i);
    if (i % 2 == 0) {
      r.client.family = 4;
      r.client.bytes = {127, 0, 0, 1};
    }
    r.user_agent = i == 3 ? "" : "Mozilla/5.0 (X11; Linux x86_64)";
    fuzz::require(bool((*lg)->append_and_wait(0, r)), "seed append");
  }
  (*lg)->stop();
  lg->reset();

  std::string segment, index, journal;
  for (const auto& e : fs::directory_iterator(dir + "/p0000")) {
    const std::string name = e.path().filename();
    if (name.ends_with(".seg") && segment.empty()) segment = trim_zeros(read_all(e.path()));
    if (name.ends_with(".idx") && index.empty()) index = read_all(e.path());
  }
  journal = trim_zeros(read_all(dir + "/journal/commit-0.jnl"));
  fuzz::require(segment.size() > log::format::kSegmentHeaderSize, "a segment with records");
  const std::string frames = segment.substr(log::format::kSegmentHeaderSize);

  write_seed(out / "log_record", "frames", frames);
  write_seed(out / "log_record", "segment", segment);
  if (!index.empty()) write_seed(out / "log_record", "index", index);
  write_seed(out / "log_record", "log_meta", log::format::log_meta_text(8));
  write_seed(out / "log_record", "file_name", log::format::segment_file_name(1234));
  write_seed(out / "log_recovery", "segment_frames", "\x00" + frames);
  write_seed(out / "log_recovery", "segment_whole", "\x01" + segment);
  if (!journal.empty()) {
    write_seed(out / "log_recovery", "journal", "\x02" + journal);
    std::string both = frames;
    both.resize(journal.size(), '\0');  // equal halves: frames, then the journal
    write_seed(out / "log_recovery", "segment_and_journal", "\x03" + both + journal);
  }

  state::minute_row row;
  row.present = 0b1011;
  row.value[0] = 5;
  row.value[1] = 7;
  row.value[3] = 1;
  write_seed(out / "state_rows", "minute_row", state::encode_minute_row(row));
  write_seed(out / "state_rows", "minute_delta", state::encode_minute_delta(17, 3));
  write_seed(out / "state_rows", "minute_set", state::encode_minute_set(59, 42));
  write_seed(out / "state_rows", "count_key", state::count_key(42, 498'861, state::tally_kind::clicks));
  state::ad_record ad;
  ad.ad_id = 7;
  ad.advertiser_id = "adv-1";
  ad.url = "https://example.com/landing?x=1";
  ad.updated_ms = 1'795'900'000'000;
  write_seed(out / "state_rows", "ad", state::encode_ad(ad));
  write_seed(out / "state_rows", "u64", state::encode_u64(123456789));
  recon::report r;
  r.id = 3;
  r.requested_from_ms = r.from_ms = 1'795'896'000'000;
  r.requested_to_ms = r.to_ms = 1'795'899'600'000;
  r.rows_checked = 10;
  write_seed(out / "state_rows", "report", recon::to_json(r));

  // A small ads snapshot of two pages (two ads with long URLs do not fit in one).
  {
    const std::string snap_path = (out / "ads_snapshot" / "two_pages").string();
    fs::create_directories(out / "ads_snapshot");
    std::vector<state::ad_record> ads;
    for (std::uint64_t id : {1, 7, 9, 40}) {
      state::ad_record a = ad;
      a.ad_id = id;
      a.url = "https://example.com/" + std::string(id == 7 || id == 9 ? 2000 : 10, 'p');
      a.paused = id == 40;
      ads.push_back(a);
    }
    std::string why;
    if (state::ads_snapshot::write(
            snap_path, 1,
            [&](const std::function<bool(const state::ad_record&)>& emit) {
              for (const auto& a : ads) emit(a);
              return std::error_code{};
            },
            why)) {
      std::fprintf(stderr, "cannot write the ads snapshot seed: %s\n", why.c_str());
      return 1;
    }
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
