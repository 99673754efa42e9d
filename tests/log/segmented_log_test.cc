#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "log/faulty_file_system.h"
#include "log/inspect.h"
#include "log/log_errc.h"
#include "log/log_test_util.h"
#include "log/record_format.h"
#include "log/segmented_log.h"
#include "testutil/hold_point.h"
#include "testutil/power_loss_disk.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::log;
using adclick::log::test::make_click;
using adclick::log::test::read_all;

namespace {

log_options small_options(const std::string& dir, std::uint32_t partitions = 2) {
  log_options o;
  o.dir = dir;
  o.partitions = partitions;
  o.segment_size = 64 * 1024;
  return o;
}

std::unique_ptr<segmented_log> open_log(const log_options& o, recovery_report* report = nullptr) {
  recovery_report r;
  std::string err;
  auto log = segmented_log::open(o, r, err);
  INFO(err);
  REQUIRE(log);
  if (report != nullptr) *report = r;
  (*log)->start();
  return std::move(*log);
}

std::uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

std::string last_segment_path(const std::string& dir, partition_id p) {
  std::string best;
  for (const auto& e :
       std::filesystem::directory_iterator(dir + "/" + format::partition_dir_name(p))) {
    const auto name = e.path().filename().string();
    if (name.ends_with(".seg") && e.path().string() > best) best = e.path().string();
  }
  return best;
}

}  // namespace

TEST_CASE("appends read back in order with dense offsets", "[log]") {
  testutil::temp_dir dir;
  auto log = open_log(small_options(dir.path()));
  for (std::uint64_t i = 0; i < 100; ++i) {
    auto off = log->append_and_wait(static_cast<partition_id>(i % 2), make_click(i));
    REQUIRE(off);
    CHECK(*off == i / 2);
  }
  CHECK(log->durable_end(0) == 50);
  CHECK(log->durable_end(1) == 50);
  const auto recs = read_all(*log, 1);
  REQUIRE(recs.size() == 50);
  for (std::size_t k = 0; k < recs.size(); ++k) {
    CHECK(recs[k].first == k);
    CHECK(recs[k].second == make_click(2 * k + 1));
  }
  SECTION("and survive a clean restart") {
    log->stop();
    log.reset();
    auto again = open_log(small_options(dir.path()));
    CHECK(again->durable_end(0) == 50);
    CHECK(read_all(*again, 0).size() == 50);
    auto off = again->append_and_wait(0, make_click(1000));
    REQUIRE(off);
    CHECK(*off == 50);
  }
}

TEST_CASE("bad appends are refused with a named error", "[log]") {
  testutil::temp_dir dir;
  auto log = open_log(small_options(dir.path()));
  auto bad_partition = log->append_and_wait(2, make_click(1));
  CHECK(bad_partition.error() == log_errc::invalid_partition);
  click_record r = make_click(1);
  r.impression_id = std::string(200, 'x');
  CHECK(log->append_and_wait(0, r).error() == log_errc::invalid_record);
  log->stop();
  CHECK(log->append_and_wait(0, make_click(1)).error() == log_errc::stopped);
}

TEST_CASE("many threads append concurrently: every offset exactly once", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 4);
  auto log = open_log(opts);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::mutex mu;
  std::map<std::pair<partition_id, offset_t>, std::string> acked;
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t id = static_cast<std::uint64_t>(t) * kPerThread + i;
        const partition_id p = static_cast<partition_id>(id % 4);
        log->append(p, make_click(id), [&, p, id](std::error_code ec, offset_t off) {
          if (ec) {
            ++failures;
          } else {
            std::lock_guard lk(mu);
            const bool inserted = acked.emplace(std::make_pair(p, off), make_click(id).impression_id).second;
            if (!inserted) ++failures;
          }
          ++done;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  while (done.load() < kThreads * kPerThread) std::this_thread::yield();
  CHECK(failures == 0);
  std::size_t total = 0;
  for (partition_id p = 0; p < 4; ++p) {
    const auto recs = read_all(*log, p);
    CHECK(recs.size() == log->durable_end(p));
    for (std::size_t k = 0; k < recs.size(); ++k) {
      REQUIRE(recs[k].first == k);
      CHECK(acked.at({p, k}) == recs[k].second.impression_id);
    }
    total += recs.size();
  }
  CHECK(total == kThreads * kPerThread);
}

TEST_CASE("segments roll at the size limit and readers seek across them", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.segment_size = 8 * 1024;
  auto log = open_log(opts);
  for (std::uint64_t i = 0; i < 2000; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
  const auto segs = log->segments(0);
  REQUIRE(segs.size() > 10);
  offset_t expect = 0;
  for (std::size_t k = 0; k < segs.size(); ++k) {
    CHECK(segs[k].base_offset == expect);
    CHECK(segs[k].sealed == (k + 1 < segs.size()));
    expect = segs[k].end_offset;
  }
  CHECK(expect == 2000);
  for (offset_t from : {0ull, 1ull, 777ull, 1999ull, 2000ull}) {
    const auto recs = read_all(*log, 0, from);
    REQUIRE(recs.size() == 2000 - from);
    if (!recs.empty()) {
      CHECK(recs.front().first == from);
      CHECK(recs.front().second == make_click(from));
    }
  }
  SECTION("reopen uses the index files of sealed segments") {
    log->stop();
    log.reset();
    recovery_report rep;
    auto again = open_log(opts, &rep);
    CHECK(rep.indexes_rebuilt == 0);
    CHECK(rep.records_scanned < 2000 / 4);  // only the active segment is scanned
    CHECK(read_all(*again, 0).size() == 2000);
  }
  SECTION("a lost index is rebuilt from its segment") {
    log->stop();
    log.reset();
    std::filesystem::remove(dir.path() + "/p0000/" + format::index_file_name(segs[1].base_offset));
    recovery_report rep;
    auto again = open_log(opts, &rep);
    CHECK(rep.indexes_rebuilt == 1);
    CHECK(read_all(*again, 0).size() == 2000);
    CHECK(again->segments(0)[1].records == segs[1].records);
  }
}

TEST_CASE("segments know their event-time range", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.segment_size = 4096;
  auto log = open_log(opts);
  // Minutes-old and out-of-order event times.
  const std::int64_t t0 = 1'800'000'000'000;
  for (std::uint64_t i = 0; i < 300; ++i) {
    click_record r = make_click(i);
    r.event_time_ms = t0 + static_cast<std::int64_t>(i) * 1000 - (i % 5 == 0 ? 120'000 : 0);
    REQUIRE(log->append_and_wait(0, r));
  }
  const auto segs = log->segments(0);
  REQUIRE(segs.size() > 3);
  for (const auto& s : segs) {
    auto recs = read_all(*log, 0, s.base_offset);
    recs.resize(s.end_offset - s.base_offset);
    std::int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const auto& [o, r] : recs) {
      lo = std::min(lo, r.event_time_ms);
      hi = std::max(hi, r.event_time_ms);
    }
    CHECK(s.min_event_time_ms == lo);
    CHECK(s.max_event_time_ms == hi);
  }
}

TEST_CASE("a torn tail is cut at every byte position of the last record", "[log]") {
  testutil::temp_dir base;
  // Build one reference log of 5 records, then copy and tear it at each byte.
  auto opts = small_options(base / "ref", 1);
  // The segment's own recovery; with the journal on, the journal would put the
  // torn record back (tested below).
  opts.journal = false;
  std::uint64_t full = 0;  // bytes of data (preallocated zeros may follow)
  {
    auto log = open_log(opts);
    for (std::uint64_t i = 0; i < 5; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
    full = log->segments(0).back().bytes;
  }
  std::string frame4;
  REQUIRE(format::append_click_frame(frame4, make_click(4)));
  const auto last_start = full - frame4.size();
  for (auto cut = last_start; cut < full; ++cut) {
    const std::string copy = base / ("cut" + std::to_string(cut));
    std::filesystem::copy(opts.dir, copy, std::filesystem::copy_options::recursive);
    const std::string copy_seg = last_segment_path(copy, 0);
    REQUIRE(::truncate(copy_seg.c_str(), static_cast<off_t>(cut)) == 0);
    auto o2 = opts;
    o2.dir = copy;
    recovery_report rep;
    auto log = open_log(o2, &rep);
    INFO("cut at " << cut);
    CHECK(rep.torn_bytes_cut == cut - last_start);
    CHECK(rep.corruptions == 0);
    CHECK(log->durable_end(0) == 4);
    const auto recs = read_all(*log, 0);
    REQUIRE(recs.size() == 4);
    CHECK(recs[3].second == make_click(3));
    auto off = log->append_and_wait(0, make_click(100));
    REQUIRE(off);
    CHECK(*off == 4);
    CHECK(read_all(*log, 0).back().second == make_click(100));
  }
}

TEST_CASE("preallocated zeros after the data are neither damage nor a torn tail", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.segment_size = 1 << 20;
  opts.preallocate = 256 * 1024;
  opts.journal = false;  // the preallocator runs only without the journal
  std::uint64_t data = 0;
  {
    auto log = open_log(opts);
    for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
    data = log->segments(0).back().bytes;
    // The preallocator runs in the background: wait until it has made zeros.
    const std::string seg = last_segment_path(opts.dir, 0);
    for (int k = 0; k < 500 && file_size(seg) <= data; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(file_size(seg) > data);
    // Appends go on into the zeroed space.
    for (std::uint64_t i = 50; i < 100; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
    data = log->segments(0).back().bytes;
  }
  recovery_report rep;
  auto log = open_log(opts, &rep);
  CHECK(rep.torn_bytes_cut == 0);
  CHECK(rep.corruptions == 0);
  const auto recs = read_all(*log, 0);
  REQUIRE(recs.size() == 100);
  CHECK(recs.back().second == make_click(99));
  CHECK(log->segments(0).back().bytes == data);
  auto off = log->append_and_wait(0, make_click(100));
  REQUIRE(off);
  CHECK(*off == 100);
}

TEST_CASE("a flipped bit in the middle is reported and skipped", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  std::uint64_t frame_pos = 0;
  {
    auto log = open_log(opts);
    for (std::uint64_t i = 0; i < 20; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
  }
  // Flip a bit inside record 10's payload.
  {
    std::string f;
    for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(format::append_click_frame(f, make_click(i)));
    frame_pos = format::kSegmentHeaderSize + f.size();
    const std::string seg = last_segment_path(opts.dir, 0);
    std::fstream fs(seg, std::ios::in | std::ios::out | std::ios::binary);
    fs.seekg(static_cast<std::streamoff>(frame_pos + 30));
    char c = 0;
    fs.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    fs.seekp(static_cast<std::streamoff>(frame_pos + 30));
    fs.write(&c, 1);
  }
  recovery_report rep;
  auto log = open_log(opts, &rep);
  CHECK(rep.corruptions == 1);
  CHECK(rep.torn_bytes_cut == 0);
  std::vector<corruption> bad;
  const auto recs = read_all(*log, 0, 0, &bad);
  REQUIRE(recs.size() == 19);
  CHECK(recs[9].first == 9);
  CHECK(recs[10].first == 11);  // offset 10 is gone, later records are intact
  CHECK(recs[10].second == make_click(11));
  CHECK(recs.back().second == make_click(19));
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].position == frame_pos);
  std::string one;
  REQUIRE(format::append_click_frame(one, make_click(10)));
  CHECK(bad[0].bytes_skipped == one.size());
  CHECK(log->stats().corruptions.load() >= 2);
  // The writer goes on after the damage.
  auto off = log->append_and_wait(0, make_click(20));
  REQUIRE(off);
  CHECK(*off == 20);
}

TEST_CASE("retention deletes only what the consumers' floor allows", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.segment_size = 4096;
  opts.retention = std::chrono::hours(1);
  // The flusher thread reads the clock too: it is atomic.
  std::atomic<std::int64_t> now{1'800'000'000'000};
  opts.now_ms = [&now] { return now.load(); };
  auto log = open_log(opts);
  for (std::uint64_t i = 0; i < 300; ++i) REQUIRE(log->append_and_wait(0, make_click(i, now.load())));
  const auto segs = log->segments(0);
  REQUIRE(segs.size() > 4);
  now += 2 * 3'600'000;  // everything is past retention now
  log->enforce_retention();
  CHECK(log->segments(0).size() == segs.size());  // floor is 0: nothing may go
  log->set_delete_floor(0, segs[2].end_offset);
  log->enforce_retention();
  const auto left = log->segments(0);
  REQUIRE(left.size() == segs.size() - 3);
  CHECK(left.front().base_offset == segs[3].base_offset);
  CHECK(log->start_offset(0) == segs[3].base_offset);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/p0000/" +
                                      format::segment_file_name(segs[0].base_offset)));
  // A reader positioned before the start begins at the oldest retained record.
  const auto recs = read_all(*log, 0, 0);
  REQUIRE_FALSE(recs.empty());
  CHECK(recs.front().first == segs[3].base_offset);
  SECTION("young segments stay even below the floor") {
    now -= 2 * 3'600'000;
    log->set_delete_floor(0, 300);
    log->enforce_retention();
    CHECK(log->segments(0).size() == left.size());
  }
}

TEST_CASE("disk full and failed fsync fail the appends, then the log recovers", "[log]") {
  testutil::temp_dir dir;
  test::faulty_file_system fs;
  auto opts = small_options(dir.path(), 1);
  opts.fs = &fs;
  auto log = open_log(opts);
  REQUIRE(log->append_and_wait(0, make_click(0)));
  const int err = GENERATE(ENOSPC, EIO);
  SECTION("write fails") {
    fs.write_errno = err;
    auto r = log->append_and_wait(0, make_click(1));
    CHECK(r.error() == std::error_code(err, std::system_category()));
  }
  SECTION("fsync fails") {
    fs.sync_errno = err;
    auto r = log->append_and_wait(0, make_click(1));
    CHECK(r.error() == std::error_code(err, std::system_category()));
  }
  CHECK(log->durable_end(0) == 1);
  CHECK(log->stats().append_failures.load() == 1);
  fs.write_errno = 0;
  fs.sync_errno = 0;
  auto ok = log->append_and_wait(0, make_click(2));
  REQUIRE(ok);
  CHECK(*ok == 1);  // dense: the failed record took no offset
  auto recs = read_all(*log, 0);
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].second == make_click(2));
  // Nothing of the failed write survives a restart either.
  log->stop();
  log.reset();
  recovery_report rep;
  opts.fs = nullptr;
  auto again = open_log(opts, &rep);
  CHECK(rep.corruptions == 0);
  CHECK(rep.torn_bytes_cut == 0);
  CHECK(read_all(*again, 0).size() == 2);
}

TEST_CASE("a new segment that cannot be created fails the append", "[log]") {
  testutil::temp_dir dir;
  test::faulty_file_system fs;
  auto opts = small_options(dir.path(), 1);
  opts.fs = &fs;
  opts.segment_size = 4096;
  auto log = open_log(opts);
  std::uint64_t i = 0;
  while (log->segments(0).size() < 2) REQUIRE(log->append_and_wait(0, make_click(i++)));
  // Fill the active segment, then make the roll fail.
  const auto before = log->segments(0).size();
  fs.create_errno = ENOSPC;
  std::size_t failures = 0;
  for (int k = 0; k < 200; ++k) {
    if (!log->append_and_wait(0, make_click(i))) {
      ++failures;
    } else {
      ++i;
    }
  }
  CHECK(failures > 0);
  fs.create_errno = 0;
  REQUIRE(log->append_and_wait(0, make_click(i++)));
  CHECK(log->segments(0).size() > before);
  CHECK(read_all(*log, 0).size() == i);
}

TEST_CASE("os durability completes appends and survives a restart", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 2);
  opts.mode = durability::os;
  {
    auto log = open_log(opts);
    for (std::uint64_t i = 0; i < 100; ++i) REQUIRE(log->append_and_wait(i % 2, make_click(i)));
  }
  auto log = open_log(opts);
  CHECK(read_all(*log, 0).size() == 50);
  CHECK(read_all(*log, 1).size() == 50);
}

TEST_CASE("a changed partition count is refused", "[log]") {
  testutil::temp_dir dir;
  { auto log = open_log(small_options(dir.path(), 2)); }
  recovery_report r;
  std::string err;
  auto log = segmented_log::open(small_options(dir.path(), 3), r, err);
  REQUIRE_FALSE(log);
  CHECK(log.error() == log_errc::partition_mismatch);
  CHECK_THAT(err, Catch::Contains("2 partitions") && Catch::Contains("log.partitions is 3"));
}

TEST_CASE("an unexpected file in a partition directory is refused", "[log]") {
  testutil::temp_dir dir;
  { auto log = open_log(small_options(dir.path(), 1)); }
  std::ofstream(dir.path() + "/p0000/stray.txt") << "x";
  recovery_report r;
  std::string err;
  auto log = segmented_log::open(small_options(dir.path(), 1), r, err);
  REQUIRE_FALSE(log);
  CHECK(log.error() == log_errc::bad_layout);
}

TEST_CASE("a consumer waits for new durable records without polling", "[log]") {
  testutil::temp_dir dir;
  auto log = open_log(small_options(dir.path(), 1));
  const auto gen = log->durable_generation();
  std::atomic<bool> appended{false};  // Catch2's assertions are not thread-safe
  std::thread producer([&] { appended = log->append_and_wait(0, make_click(1)).has_value(); });
  const auto next = log->wait_durable(gen, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  producer.join();
  CHECK(appended);
  CHECK(next != gen);
  CHECK(log->durable_end(0) == 1);
  // With nothing new, it returns at the deadline.
  const auto t0 = std::chrono::steady_clock::now();
  const auto same = log->wait_durable(log->durable_generation(), t0 + std::chrono::milliseconds(50));
  CHECK(same == log->durable_generation());
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(50));
}

TEST_CASE("stop completes every queued append", "[log]") {
  testutil::temp_dir dir;
  recovery_report r;
  std::string err;
  auto opened = segmented_log::open(small_options(dir.path(), 1), r, err);
  REQUIRE(opened);
  auto& log = **opened;
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    log.append(0, make_click(static_cast<std::uint64_t>(i)), [&](std::error_code ec, offset_t) {
      if (!ec) ++ok;
    });
  }
  log.stop();  // never started: stop still writes them
  CHECK(ok == 100);
  auto again = open_log(small_options(dir.path(), 1));
  CHECK(again->durable_end(0) == 100);
}

namespace {
// Remembers how much of each file an fdatasync/fsync made durable, so a test
// can cut a copy of the files back to that: what a power loss would leave.
class durable_size_tracker : public base::file_system {
 public:
  result<int> open(const std::string& path, int flags, mode_t mode) override {
    auto fd = file_system::open(path, flags, mode);
    if (fd) {
      std::lock_guard lk(mu_);
      paths_[*fd] = path;
    }
    return fd;
  }
  std::error_code datasync(int fd) override { return record(fd, file_system::datasync(fd)); }
  std::error_code sync(int fd) override { return record(fd, file_system::sync(fd)); }
  std::map<std::string, std::uint64_t> durable() {
    std::lock_guard lk(mu_);
    return durable_;
  }

 private:
  std::error_code record(int fd, std::error_code ec) {
    if (!ec) {
      auto size = file_system::size(fd);
      std::lock_guard lk(mu_);
      if (size) durable_[paths_[fd]] = *size;
    }
    return ec;
  }
  std::mutex mu_;
  std::map<int, std::string> paths_;
  std::map<std::string, std::uint64_t> durable_;
};
}  // namespace

TEST_CASE("records that only the journal holds are restored after a power loss", "[log]") {
  testutil::temp_dir dir;
  durable_size_tracker fs;
  auto opts = small_options(dir / "live", 4);
  opts.segment_size = 1 << 20;
  opts.fs = &fs;
  opts.checkpoint_bytes = 1 << 20;  // no switch during the test: segments stay unsynced
  opts.checkpoint_interval = std::chrono::hours(1);
  auto log = open_log(opts);
  for (std::uint64_t i = 0; i < 400; ++i) REQUIRE(log->append_and_wait(i % 4, make_click(i)));
  // Copy the files as a power loss would leave them: every segment cut back
  // to its last fdatasync (its header), the journal as synced.
  const std::string copy = dir / "after-power-loss";
  std::filesystem::copy(opts.dir, copy, std::filesystem::copy_options::recursive);
  std::size_t cut = 0;
  for (const auto& [path, size] : fs.durable()) {
    if (!path.ends_with(".seg")) continue;
    const std::string target = copy + path.substr(opts.dir.size());
    if (std::filesystem::file_size(target) > size) {
      std::filesystem::resize_file(target, size);
      ++cut;
    }
  }
  CHECK(cut == 4);
  auto o2 = small_options(copy, 4);
  o2.segment_size = 1 << 20;
  recovery_report rep;
  auto again = open_log(o2, &rep);
  CHECK(rep.journal_records_restored == 400);
  CHECK(rep.corruptions == 0);
  for (partition_id p = 0; p < 4; ++p) {
    const auto recs = read_all(*again, p);
    REQUIRE(recs.size() == 100);
    for (std::size_t k = 0; k < recs.size(); ++k) CHECK(recs[k].second == make_click(4 * k + p));
  }
  // And the restored log goes on at the right offsets.
  auto off = again->append_and_wait(1, make_click(1000));
  REQUIRE(off);
  CHECK(*off == 100);
}

TEST_CASE("without the journal every partition is synced per group commit", "[log]") {
  testutil::temp_dir dir;
  durable_size_tracker fs;
  auto opts = small_options(dir.path(), 2);
  opts.journal = false;
  opts.preallocate = 0;
  opts.fs = &fs;
  auto log = open_log(opts);
  for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(log->append_and_wait(i % 2, make_click(i)));
  const auto durable = fs.durable();
  for (partition_id p = 0; p < 2; ++p) {
    const auto segs = log->segments(p);
    const std::string path = dir.path() + "/" + format::partition_dir_name(p) + "/" +
                             format::segment_file_name(segs.back().base_offset);
    REQUIRE(durable.count(path) == 1);
    CHECK(durable.at(path) == segs.back().bytes);
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/journal/commit-0.jnl"));
}

TEST_CASE("an active segment older than segment_age is sealed without new appends", "[log]") {
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.segment_age = std::chrono::minutes(1);
  std::atomic<std::int64_t> now{1'800'000'000'000};
  opts.now_ms = [&now] { return now.load(); };
  auto log = open_log(opts);
  REQUIRE(log->append_and_wait(0, make_click(1)));
  REQUIRE(log->segments(0).size() == 1);
  CHECK_FALSE(log->segments(0)[0].sealed);
  // The flusher's maintenance (once a second) sees it old and seals it, so the
  // batch layer and retention can use it while the partition is idle.
  now += 2 * 60'000;
  for (int i = 0; i < 300 && !log->segments(0)[0].sealed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(log->segments(0)[0].sealed);
  CHECK(std::filesystem::exists(dir.path() + "/p0000/" + format::index_file_name(0)));
  // The next append opens a new segment.
  auto off = log->append_and_wait(0, make_click(2));
  REQUIRE(off);
  CHECK(*off == 1);
  const auto segs = log->segments(0);
  REQUIRE(segs.size() == 2);
  CHECK(segs[1].base_offset == 1);
}

TEST_CASE("appends far below the pending cap are never refused as overloaded", "[log]") {
  // Found under the overload benchmark: the flusher could take a record's
  // bytes off the pending count before its appender had added them, so the
  // unsigned count wrapped for a moment and concurrent appends were refused
  // as overloaded with almost nothing pending.
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 4);
  opts.mode = durability::os;  // fast commits: the flusher takes chunks as soon as they appear
  opts.segment_size = 64ull << 20;
  opts.max_pending_bytes = 1 << 20;  // each thread keeps at most 32 small records in flight
  auto log = open_log(opts);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::atomic<int> overloaded{0};
  std::atomic<int> other_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::atomic<int> in_flight{0};
      for (int i = 0; i < kPerThread; ++i) {
        while (in_flight.load() >= 32) std::this_thread::yield();
        ++in_flight;
        const std::uint64_t id = static_cast<std::uint64_t>(t) * kPerThread + i;
        log->append(static_cast<partition_id>(id % 4), make_click(id), [&](std::error_code ec, offset_t) {
          if (ec == log_errc::overloaded) {
            ++overloaded;
          } else if (ec) {
            ++other_failures;
          }
          --in_flight;
        });
      }
      while (in_flight.load() > 0) std::this_thread::yield();
    });
  }
  for (auto& t : threads) t.join();
  CHECK(overloaded == 0);
  CHECK(other_failures == 0);
}

TEST_CASE("a burst larger than one batch is written without another append", "[log]") {
  // Regression: the flusher took one chunk per partition per group commit
  // and went back to sleep when no new append had arrived meanwhile, so a
  // burst larger than batch_max_bytes followed by silence left appends
  // waiting forever.
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 2);
  opts.batch_max_bytes = 4096;
  recovery_report r;
  std::string err;
  auto opened = segmented_log::open(opts, r, err);
  REQUIRE(opened);
  auto& log = **opened;
  constexpr int kBurst = 1200;  // about 40 batches of 4 KiB per partition
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kBurst; ++i) {
    log.append(static_cast<partition_id>(i % 2), make_click(static_cast<std::uint64_t>(i)),
               [&](std::error_code ec, offset_t) {
                 if (ec) ++failed;
                 ++done;
               });
  }
  const auto t0 = std::chrono::steady_clock::now();
  log.start();
  while (done.load() < kBurst && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    log.wait_durable(log.durable_generation(), std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
  }
  CHECK(done.load() == kBurst);
  CHECK(failed.load() == 0);
  CHECK(log.durable_end(0) + log.durable_end(1) == kBurst);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}

namespace {
// A file system whose fdatasync can be held until the test lets it go.
class held_sync_file_system : public base::file_system {
 public:
  std::error_code datasync(int fd) override {
    point.pass();
    return file_system::datasync(fd);
  }
  void hold() { point.hold(); }
  void wait_held() { point.wait_held(); }
  void release() { point.release(); }

 private:
  testutil::hold_point point;
};
}  // namespace

TEST_CASE("appends queued past append_timeout fail as timed out and are never written", "[log]") {
  testutil::temp_dir dir;
  held_sync_file_system fs;
  auto opts = small_options(dir.path(), 1);
  opts.fs = &fs;
  opts.append_timeout = std::chrono::milliseconds(50);
  auto log = open_log(opts);
  REQUIRE(log->append_and_wait(0, make_click(0)));
  // The next group commit's fdatasync hangs (a slow disk): appends queue.
  fs.hold();
  std::atomic<int> first_ok{0};
  log->append(0, make_click(1), [&](std::error_code ec, offset_t) {
    if (!ec) ++first_ok;
  });
  fs.wait_held();
  std::atomic<int> done{0};
  std::vector<std::error_code> errors(20);
  for (int i = 0; i < 20; ++i) {
    log->append(0, make_click(static_cast<std::uint64_t>(10 + i)), [&, i](std::error_code ec, offset_t) {
      errors[static_cast<std::size_t>(i)] = ec;
      ++done;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(80));  // past the deadline, on purpose
  fs.release();
  const auto t0 = std::chrono::steady_clock::now();
  while (done.load() < 20 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(done.load() == 20);
  CHECK(first_ok.load() == 1);  // already being written: it completes
  for (const auto& ec : errors) CHECK(ec == log_errc::timed_out);
  CHECK(log->stats().append_timeouts.load() == 20);
  // None of them took an offset; the log goes on densely.
  CHECK(log->durable_end(0) == 2);
  auto next = log->append_and_wait(0, make_click(99));
  REQUIRE(next);
  CHECK(*next == 2);
  CHECK(read_all(*log, 0).size() == 3);
}

TEST_CASE("a log that lost its tail behind a consumer's offset goes on past a recorded hole", "[log]") {
  // Regression: a shard whose committed offset was beyond the log's end
  // (durability "os", a power loss) read on from there while the log gave
  // those offsets out again to new records: they were never counted.
  testutil::temp_dir dir;
  auto opts = small_options(dir.path(), 1);
  opts.mode = durability::os;
  opts.segment_size = 1 << 20;
  {
    auto log = open_log(opts);
    for (std::uint64_t i = 0; i < 30; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
    log->stop();
  }
  // The power loss: the segment's last third never reached the disk.
  // (Zeros after the last record are preallocated space, not data.)
  const std::string seg = last_segment_path(dir.path(), 0);
  std::uint64_t data_end = 0;
  {
    std::ifstream in(seg, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    data_end = bytes.find_last_not_of('\0') + 1;
  }
  std::filesystem::resize_file(seg, data_end * 2 / 3);
  opts.resume_floor = {30};  // a consumer had committed all 30
  recovery_report rep;
  auto log = open_log(opts, &rep);
  CHECK(rep.holes == 1);
  CHECK(log->durable_end(0) == 30);
  const auto holes = log->holes(0);
  REQUIRE(holes.size() == 1);
  const offset_t kept = holes[0].from;
  CHECK(kept > 10);
  CHECK(kept < 30);
  CHECK(holes[0].to == 30);
  CHECK(holes[0].after_event_ms == make_click(kept - 1).event_time_ms);
  // New records take fresh offsets, and a reader from the old position sees them.
  auto off = log->append_and_wait(0, make_click(100));
  REQUIRE(off);
  CHECK(*off == 30);
  auto from_committed = read_all(*log, 0, 30);
  REQUIRE(from_committed.size() == 1);
  CHECK(from_committed[0].second == make_click(100));
  auto all = read_all(*log, 0);
  CHECK(all.size() == kept + 1);
  log->stop();
  log.reset();
  // `adclick log inspect` shows it, and does not call the log damaged.
  const auto inspected = inspect_log(dir.path());
  REQUIRE(inspected.holes.size() == 1);
  CHECK(inspected.holes[0] == holes[0]);
  CHECK(inspected.clean());
  const std::string text = format_report(inspected);
  CHECK(text.find("HOLE partition 0: offsets " + std::to_string(kept) + "..29") != std::string::npos);
  CHECK(text.find("1 known holes") != std::string::npos);

  SECTION("the hole is remembered without the floor, and offsets go on") {
    opts.resume_floor.clear();
    auto again = open_log(opts);
    CHECK(again->holes(0) == holes);
    auto next = again->append_and_wait(0, make_click(101));
    REQUIRE(next);
    CHECK(*next == 31);
  }
  SECTION("a damaged record of holes is refused by name") {
    const std::string path = dir.path() + "/HOLES";
    std::string text;
    {
      std::ifstream in(path);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    REQUIRE(text.find("hole 0 ") != std::string::npos);
    text[text.find("hole 0 ") + 7] ^= 1;  // the hole's first offset
    {
      std::ofstream out(path, std::ios::trunc);
      out << text;
    }
    recovery_report r2;
    std::string err;
    auto refused = segmented_log::open(opts, r2, err);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == log_errc::bad_holes_file);
    CHECK(err.find("HOLES") != std::string::npos);
  }
  SECTION("a crash after the new segment but before HOLES: the gap is found again") {
    std::filesystem::remove(dir.path() + "/HOLES");
    opts.resume_floor.clear();
    recovery_report r3;
    auto again = open_log(opts, &r3);
    const auto found = again->holes(0);
    REQUIRE(found.size() == 1);
    CHECK(found[0].from == kept);
    CHECK(found[0].to == 30);
  }
}

namespace {
// A one-partition log in dir/live on a power_loss_disk.
struct power_loss_fixture {
  testutil::temp_dir dir;
  std::string live = make_live(dir);
  testutil::power_loss_disk disk{live};
  testutil::power_loss_file_system fs{disk};
  log_options opts = make_options();

  static std::string make_live(const testutil::temp_dir& d) {
    std::filesystem::create_directories(d / "live");
    return d / "live";
  }
  log_options make_options() {
    auto o = small_options(live, 1);
    o.segment_size = 1 << 20;
    o.fs = &fs;
    return o;
  }
};
}  // namespace

TEST_CASE("a power loss that kept later pages of a segment and lost an earlier one: the journal restores them",
          "[log]") {
  // Regression: recovery skipped the zeros as damage, kept the records after
  // them, set the partition's end past them, and journal replay then dropped
  // every chunk below that end: the acknowledged records of the lost page
  // were never restored.
  power_loss_fixture f;
  f.opts.checkpoint_bytes = 1 << 20;  // no switch: the segment stays unsynced
  f.opts.checkpoint_interval = std::chrono::hours(1);
  auto& disk = f.disk;
  const auto& dir = f.dir;
  auto log = open_log(f.opts);
  for (std::uint64_t i = 0; i < 300; ++i) REQUIRE(log->append_and_wait(0, make_click(i)));
  // The disk wrote back every page of the segment but its third one.
  const std::string copy = dir / "after-power-loss";
  disk.image(copy, [](const std::string& path, std::uint64_t page) {
    return !(path.ends_with(".seg") && page == 2);
  });
  log->stop();
  auto o2 = small_options(copy, 1);
  o2.segment_size = 1 << 20;
  recovery_report rep;
  auto again = open_log(o2, &rep);
  const auto recs = read_all(*again, 0);
  REQUIRE(recs.size() == 300);
  for (std::size_t k = 0; k < recs.size(); ++k) {
    CHECK(recs[k].first == k);
    CHECK(recs[k].second == make_click(k));
  }
  CHECK(rep.corruptions == 0);
  CHECK(again->holes(0).empty());
  auto off = again->append_and_wait(0, make_click(1000));
  REQUIRE(off);
  CHECK(*off == 300);
}

TEST_CASE("a failed checkpoint fdatasync is never retried and trusted: the log fences, the restart rewrites",
          "[log]") {
  // Regression: the checkpoint retried a failed fdatasync of a segment and
  // took the retry's success (Linux had marked the pages clean), then reused
  // the journal file that held the only durable copy of those records.
  power_loss_fixture f;
  f.opts.checkpoint_bytes = 16 << 10;  // a journal switch (and checkpoint) every ~16 KiB
  auto& disk = f.disk;
  const auto& dir = f.dir;
  auto log = open_log(f.opts);
  std::vector<std::uint64_t> acked;
  REQUIRE(log->append_and_wait(0, make_click(0)));  // the segment exists
  acked.push_back(0);
  // The next fdatasync of the segment (a checkpoint's) fails.
  disk.fail_next_sync([](const std::string& path) { return path.ends_with(".seg"); });
  int fenced = 0;
  for (std::uint64_t i = 1; i < 2000 && fenced < 50; ++i) {
    auto r = log->append_and_wait(0, make_click(i));
    if (r) {
      acked.push_back(i);
    } else {
      CHECK(r.error() == log_errc::fenced);
      ++fenced;
    }
  }
  CHECK(disk.failures_injected() == 1);
  CHECK(log->fenced());
  CHECK(fenced == 50);
  CHECK(log->stats().sync_failures.load() == 1);
  // A power loss now: only what was really synced survives.
  std::mt19937_64 rng(7);
  const std::string copy = dir / "after-power-loss";
  disk.image(copy, rng, false);
  log->stop();
  auto o2 = small_options(copy, 1);
  o2.segment_size = 1 << 20;
  recovery_report rep;
  auto again = open_log(o2, &rep);
  CHECK_FALSE(again->fenced());
  const auto recs = read_all(*again, 0);
  REQUIRE(recs.size() >= acked.size());
  for (std::size_t k = 0; k < acked.size(); ++k) CHECK(recs[k].second == make_click(acked[k]));
  CHECK(rep.corruptions == 0);
  CHECK_FALSE(std::filesystem::exists(copy + "/FENCED"));  // recovery done: the mark goes

  // A restart without a power loss (the page cache still holds what the
  // disk may have lost): the fence's mark makes recovery rewrite from the
  // journal rather than trust records that pass their checksums.
  REQUIRE(std::filesystem::exists(f.live + "/FENCED"));
  auto o3 = small_options(f.live, 1);
  o3.segment_size = 1 << 20;
  recovery_report rep3;
  auto same_boot = open_log(o3, &rep3);
  CHECK(rep3.journal_records_restored > 0);
  CHECK(read_all(*same_boot, 0).size() >= acked.size());
  CHECK_FALSE(std::filesystem::exists(f.live + "/FENCED"));
}

namespace {
// The kernel writes a segment's dirty pages back just before the journal's
// fdatasync fails: the failed round's records reach the disk.
class writeback_then_fail final : public testutil::power_loss_file_system {
 public:
  writeback_then_fail(testutil::power_loss_disk& disk) : power_loss_file_system(disk), disk_(disk) {}
  std::string segment;  // set: the next journal fdatasync first makes this file durable
  std::error_code datasync(int fd) override {
    if (!segment.empty() && path_of(fd).ends_with(".jnl")) {
      (void)disk_.sync(segment);
      segment.clear();
      disk_.fail_next_sync([](const std::string& p) { return p.ends_with(".jnl"); });
    }
    return power_loss_file_system::datasync(fd);
  }

 private:
  testutil::power_loss_disk& disk_;
};
}  // namespace

TEST_CASE("a failed round's records that reached the disk never stand in for the records given their offsets",
          "[log]") {
  // Regression (found by the power-loss torture): a round whose journal
  // fdatasync failed is cut back, and its offsets go to the next round's
  // records. If the kernel had written the failed round's segment pages back,
  // a power loss left them there with valid checksums, recovery trusted them,
  // and the acknowledged records at those offsets were lost.
  testutil::temp_dir dir;
  std::filesystem::create_directories(dir / "live");
  testutil::power_loss_disk disk(dir / "live");
  writeback_then_fail fs(disk);
  auto opts = small_options(dir / "live", 1);
  opts.fs = &fs;
  opts.checkpoint_bytes = 1 << 20;
  opts.checkpoint_interval = std::chrono::hours(1);
  auto log = open_log(opts);
  REQUIRE(log->append_and_wait(0, make_click(0)));
  fs.segment = last_segment_path(dir / "live", 0);
  auto failed = log->append_and_wait(0, make_click(1));
  REQUIRE_FALSE(failed);
  auto ok = log->append_and_wait(0, make_click(2));
  REQUIRE(ok);
  CHECK(*ok == 1);  // the failed record's offset, given to this one
  std::mt19937_64 rng(1);
  disk.image(dir / "cut", rng, false);
  log->stop();
  auto o2 = small_options(dir / "cut", 1);
  auto again = open_log(o2);
  const auto recs = read_all(*again, 0);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].second == make_click(0));
  CHECK(recs[1].second == make_click(2));
}
