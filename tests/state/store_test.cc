#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <rocksdb/db.h>

#include "state/state_format.h"
#include "state/store.h"
#include "testutil/temp_dir.h"

using namespace adclick;
using namespace adclick::state;

namespace {
std::unique_ptr<store> open_store(const std::string& dir) {
  std::string err;
  auto s = store::open(dir, err);
  INFO(err);
  REQUIRE(s);
  return std::move(*s);
}
ad_record ad(std::uint64_t id, std::string adv, std::string url = "https://example.com/x") {
  return ad_record{id, std::move(adv), std::move(url), false, 1000};
}
// Opens the database straight through RocksDB (no merge operator, no checks)
// and hands fn each family's name and handle: a look, or damage, behind the
// store's back.
void with_raw_families(
    const std::string& dir,
    const std::function<void(rocksdb::DB&, const std::string&, rocksdb::ColumnFamilyHandle*)>& fn) {
  rocksdb::DBOptions o;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(o, dir, &names).ok());
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(o, dir, cfs, &hs, &raw).ok());
  for (std::size_t i = 0; i < names.size(); ++i) fn(*raw, names[i], hs[i]);
  for (auto* h : hs) REQUIRE(raw->DestroyColumnFamilyHandle(h).ok());
  delete raw;
}
// Writes one key straight through RocksDB: damage done behind the store's back.
void raw_put(const std::string& dir, const std::string& family, const std::string& key,
             const std::string& value) {
  bool found = false;
  with_raw_families(dir, [&](rocksdb::DB& raw, const std::string& name, rocksdb::ColumnFamilyHandle* h) {
    if (name != family) return;
    REQUIRE(raw.Put(rocksdb::WriteOptions(), h, key, value).ok());
    found = true;
  });
  REQUIRE(found);
}
}  // namespace

TEST_CASE("counts merge-add, overwrite, and scan by ad and minute", "[state]") {
  testutil::temp_dir dir;
  auto db = open_store(dir.path());
  write_batch b;
  b.add_count(7, 100, tally_kind::clicks, 3);
  b.add_count(7, 100, tally_kind::clicks, 4);
  b.add_count(7, 100, tally_kind::duplicate, 1);
  b.add_count(7, 101, tally_kind::clicks, 1);
  b.add_count(8, 100, tally_kind::clicks, 50);  // another ad: not in 7's scan
  REQUIRE_FALSE(db->write(b, true));
  std::map<std::pair<std::int64_t, tally_kind>, std::uint64_t> rows;
  REQUIRE_FALSE(db->scan_counts(7, 0, 1000, [&](std::int64_t m, tally_kind k, std::uint64_t v) {
    rows[{m, k}] = v;
  }));
  CHECK(rows.size() == 3);
  CHECK(rows[{100, tally_kind::clicks}] == 7);
  CHECK(rows[{100, tally_kind::duplicate}] == 1);
  CHECK(rows[{101, tally_kind::clicks}] == 1);
  // Half-open minute range.
  rows.clear();
  REQUIRE_FALSE(db->scan_counts(7, 101, 102, [&](std::int64_t m, tally_kind k, std::uint64_t v) {
    rows[{m, k}] = v;
  }));
  CHECK(rows.size() == 1);
  // Overwrite, then merge on top of it.
  write_batch c;
  c.set_count(7, 100, tally_kind::clicks, 5);
  c.add_count(7, 100, tally_kind::clicks, 1);
  REQUIRE_FALSE(db->write(c, true));
  rows.clear();
  REQUIRE_FALSE(db->scan_counts(7, 100, 101, [&](std::int64_t m, tally_kind k, std::uint64_t v) {
    rows[{m, k}] = v;
  }));
  CHECK(rows[{100, tally_kind::clicks}] == 6);
}

TEST_CASE("minute rows: hour boundaries, overwrites of one minute, compaction, reopen", "[state]") {
  testutil::temp_dir dir;
  using counters = std::map<std::pair<std::int64_t, tally_kind>, std::uint64_t>;
  auto scan = [](store& db, std::int64_t from, std::int64_t to) {
    counters rows;
    REQUIRE_FALSE(db.scan_counts(3, from, to, [&](std::int64_t m, tally_kind k, std::uint64_t v) {
      rows[{m, k}] += v;
    }));
    return rows;
  };
  const std::int64_t h = 29'000'040;  // an hour-aligned Unix minute (row_hour * 60)
  REQUIRE(h % 60 == 0);
  {
    auto db = open_store(dir.path());
    write_batch b;
    for (std::int64_t m : {h - 1, h, h + 1, h + 59, h + 60}) b.add_count(3, m, tally_kind::clicks, 10);
    b.add_count(3, h + 1, tally_kind::late, 2);
    REQUIRE_FALSE(db->write(b, true));
    // Overwriting one minute leaves its neighbours in the same row alone.
    write_batch c;
    c.set_count(3, h + 1, tally_kind::clicks, 4);
    c.add_count(3, h + 59, tally_kind::clicks, 5);
    REQUIRE_FALSE(db->write(c, true));
    auto rows = scan(*db, h - 1, h + 61);
    CHECK(rows.size() == 6);
    CHECK(rows[{h - 1, tally_kind::clicks}] == 10);
    CHECK(rows[{h, tally_kind::clicks}] == 10);
    CHECK(rows[{h + 1, tally_kind::clicks}] == 4);
    CHECK(rows[{h + 1, tally_kind::late}] == 2);
    CHECK(rows[{h + 59, tally_kind::clicks}] == 15);
    CHECK(rows[{h + 60, tally_kind::clicks}] == 10);
    // A range that starts and ends inside rows.
    rows = scan(*db, h + 1, h + 60);
    CHECK(rows.size() == 3);
    CHECK(rows.count({h, tally_kind::clicks}) == 0);
    CHECK(rows.count({h + 60, tally_kind::clicks}) == 0);
    CHECK(scan(*db, h + 2, h + 59).empty());
    // Folded by a full compaction, the values stay.
    REQUIRE_FALSE(db->compact_counts());
    CHECK(scan(*db, h - 1, h + 61) == scan(*db, h - 1, h + 61));
    CHECK(scan(*db, h, h + 60)[{h + 59, tally_kind::clicks}] == 15);
    // An overwrite merged after compaction still overwrites only its minute.
    write_batch d;
    d.set_count(3, h, tally_kind::clicks, 1);
    REQUIRE_FALSE(db->write(d, true));
  }
  auto db = open_store(dir.path());
  auto rows = scan(*db, h - 1, h + 61);
  CHECK(rows[{h - 1, tally_kind::clicks}] == 10);
  CHECK(rows[{h, tally_kind::clicks}] == 1);
  CHECK(rows[{h + 1, tally_kind::clicks}] == 4);
  CHECK(rows[{h + 59, tally_kind::clicks}] == 15);
}

TEST_CASE("minute row codec: round trip, merge order, malformed bytes refused", "[state]") {
  minute_row a;
  a.present = (1ull << 0) | (1ull << 59);
  a.value[0] = 7;
  a.value[59] = 1ull << 40;
  minute_row back;
  REQUIRE(decode_minute_row(encode_minute_row(a), back));
  CHECK(back.present == a.present);
  CHECK(back.value[0] == 7);
  CHECK(back.value[59] == 1ull << 40);
  // add then set = set; set then add = set + add.
  minute_row add5, set2;
  REQUIRE(decode_minute_row(encode_minute_delta(0, 5), add5));
  REQUIRE(decode_minute_row(encode_minute_set(0, 2), set2));
  minute_row x = a;
  merge_minute_rows(x, add5);
  merge_minute_rows(x, set2);
  CHECK(x.value[0] == 2);
  minute_row ops = set2;  // operands combined first (associativity)
  merge_minute_rows(ops, add5);
  minute_row y = a;
  merge_minute_rows(y, ops);
  CHECK(y.value[0] == 7 - 7 + 2 + 5);
  CHECK(y.value[59] == 1ull << 40);
  // Malformed: short, wrong length for its bits, a bit past minute 59, set outside present.
  minute_row out;
  std::string good = encode_minute_row(a);
  CHECK_FALSE(decode_minute_row(good.substr(0, 15), out));
  CHECK_FALSE(decode_minute_row(good + std::string(8, '\0'), out));
  CHECK_FALSE(decode_minute_row(good.substr(0, good.size() - 8), out));
  std::string high = good;
  high[7] = static_cast<char>(0x80);  // bit 63 of `present`
  CHECK_FALSE(decode_minute_row(high, out));
  std::string stray_set = good;
  stray_set[8] = 0x02;  // set bit 1, not present
  CHECK_FALSE(decode_minute_row(stray_set, out));
}

TEST_CASE("a corrupt counts value is reported, never counted", "[state]") {
  testutil::temp_dir dir;
  {
    auto db = open_store(dir.path());
    write_batch b;
    b.add_count(4, 120, tally_kind::clicks, 1);
    REQUIRE_FALSE(db->write(b, true));
  }
  // Damage the row with RocksDB itself (a Put of bytes that are no row).
  raw_put(dir.path(), kCountsFamily, count_key(4, 2, tally_kind::clicks), "bad");
  auto db = open_store(dir.path());
  std::uint64_t seen = 0;
  const auto ec = db->scan_counts(4, 0, 1000, [&](std::int64_t, tally_kind, std::uint64_t v) { seen += v; });
  CHECK(ec == state_errc::corrupt);
  CHECK(seen == 0);
}

TEST_CASE("a data dir of another state format is refused with one clear line", "[state]") {
  testutil::temp_dir dir;
  { auto db = open_store(dir.path()); }
  raw_put(dir.path(), kMetaFamily, format_version_key(), encode_u64(1));
  std::string err;
  auto s = store::open(dir.path(), err);
  REQUIRE_FALSE(s);
  CHECK(err.find("holds state format 1, this adclick reads format 2") != std::string::npos);
  CHECK(err.find('\n') == std::string::npos);
}

TEST_CASE("concurrent merges from several threads add up exactly", "[state]") {
  testutil::temp_dir dir;
  auto db = open_store(dir.path());
  std::atomic<int> failures{0};  // Catch2's assertions are not thread-safe
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        write_batch b;
        b.add_count(1, 5, tally_kind::clicks, 1);
        if (db->write(b, false)) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(failures == 0);
  std::uint64_t total = 0;
  REQUIRE_FALSE(db->scan_counts(1, 5, 6, [&](std::int64_t, tally_kind, std::uint64_t v) { total = v; }));
  CHECK(total == 2000);
}

TEST_CASE("ads, the advertiser index, dedup keys and offsets survive a reopen", "[state]") {
  testutil::temp_dir dir;
  {
    auto db = open_store(dir.path());
    write_batch b;
    b.put_ad(ad(1, "adv-a"), std::nullopt);
    b.put_ad(ad(2, "adv-b"), std::nullopt);
    b.put_ad(ad(3, "adv-a"), std::nullopt);
    b.put_dedup(1, "imp-1", 1'800'000'000);
    b.put_offset(3, 12345);
    b.put_watermark(1, -5);
    REQUIRE_FALSE(db->write(b, true));
    // Moving ad 3 to another advertiser moves its index entry.
    auto prev = db->get_ad(3);
    REQUIRE(prev);
    write_batch m;
    ad_record moved = ad(3, "adv-b", "https://example.com/moved");
    moved.paused = true;
    m.put_ad(moved, *prev);
    REQUIRE_FALSE(db->write(m, true));
  }
  auto db = open_store(dir.path());
  auto a3 = db->get_ad(3);
  REQUIRE(a3);
  REQUIRE(*a3);
  CHECK((*a3)->advertiser_id == "adv-b");
  CHECK((*a3)->paused);
  CHECK((*a3)->url == "https://example.com/moved");
  auto none = db->get_ad(99);
  REQUIRE(none);
  CHECK_FALSE(*none);
  auto of_a = db->list_ads("adv-a", 0, 10);
  REQUIRE(of_a);
  REQUIRE(of_a->size() == 1);
  CHECK((*of_a)[0].ad_id == 1);
  auto of_b = db->list_ads("adv-b", 0, 10);
  REQUIRE(of_b);
  CHECK(of_b->size() == 2);
  auto page = db->list_ads("", 1, 1);
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK((*page)[0].ad_id == 2);
  auto d = db->get_dedup(1, "imp-1");
  REQUIRE(d);
  CHECK(*d == std::optional<std::int64_t>(1'800'000'000));
  auto d2 = db->get_dedup(1, "imp-2");
  REQUIRE(d2);
  CHECK_FALSE(*d2);
  auto off = db->get_offset(3);
  REQUIRE(off);
  CHECK(*off == std::optional<std::uint64_t>(12345));
  auto wm = db->get_watermark(1);
  REQUIRE(wm);
  CHECK(*wm == std::optional<std::int64_t>(-5));
  std::size_t n = 0;
  REQUIRE_FALSE(db->for_each_ad([&](const ad_record&) { return ++n < 100; }));
  CHECK(n == 3);
}

TEST_CASE("the hour index: marks are found by hour after a reopen, in their family and in meta",
          "[state]") {
  testutil::temp_dir dir;
  const std::int64_t hour = 500'000;
  {
    auto db = open_store(dir.path());
    write_batch b;
    for (std::uint64_t ad : {7, 3, 9}) b.put_active(hour, ad);
    b.put_active(hour + 1, 4);
    b.put_active(hour - 1, 5);
    REQUIRE_FALSE(db->write(b, true));
    write_batch again;  // marking twice is one mark
    again.put_active(hour, 3);
    REQUIRE_FALSE(db->write(again, true));
  }
  auto marks = [&](store& db, std::int64_t h) {
    std::multiset<std::uint64_t> out;
    REQUIRE_FALSE(db.scan_active_ads(h, [&](std::uint64_t ad) { out.insert(ad); }));
    return out;
  };
  {
    auto db = open_store(dir.path());
    CHECK(marks(*db, hour) == std::multiset<std::uint64_t>{3, 7, 9});
    CHECK(marks(*db, hour + 1) == std::multiset<std::uint64_t>{4});
    CHECK(marks(*db, hour - 1) == std::multiset<std::uint64_t>{5});
    CHECK(marks(*db, hour + 2).empty());
  }
  // The marks are in the active family, none in meta.
  std::map<std::string, std::size_t> keys;
  with_raw_families(dir.path(), [&](rocksdb::DB& raw, const std::string& name,
                                    rocksdb::ColumnFamilyHandle* h) {
    std::unique_ptr<rocksdb::Iterator> it(raw.NewIterator(rocksdb::ReadOptions(), h));
    for (it->Seek("active/"); it->Valid() && it->key().starts_with("active/"); it->Next()) ++keys[name];
  });
  CHECK(keys == std::map<std::string, std::size_t>{{kActiveFamily, 5}});
  // A store written before the active family holds its marks in meta: they
  // are still found, next to the new ones.
  raw_put(dir.path(), kMetaFamily, active_key(hour, 11), "");
  auto db = open_store(dir.path());
  CHECK(marks(*db, hour) == std::multiset<std::uint64_t>{3, 7, 9, 11});
  write_batch b;
  b.put_active(hour, 11);
  REQUIRE_FALSE(db->write(b, true));
  CHECK(marks(*db, hour) == std::multiset<std::uint64_t>{3, 7, 9, 11, 11});
  SECTION("a damaged mark is reported") {
    db.reset();
    raw_put(dir.path(), kActiveFamily, active_prefix(hour) + "short", "");
    db = open_store(dir.path());
    CHECK(db->scan_active_ads(hour, [](std::uint64_t) {}) == state_errc::corrupt);
  }
}

TEST_CASE("state encodings reject damaged bytes", "[state]") {
  const std::string good = encode_ad(ad(5, "adv", "https://e.com/"));
  CHECK(decode_ad(5, good) == ad(5, "adv", "https://e.com/"));
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK_FALSE(decode_ad(5, std::string_view(good).substr(0, n)));
  }
  CHECK_FALSE(decode_ad(5, good + "x"));
  std::string bad_version = good;
  bad_version[0] = 9;
  CHECK_FALSE(decode_ad(5, bad_version));
  CHECK_FALSE(decode_count_key("short"));
  std::string k = count_key(1, 2, tally_kind::late);
  CHECK(decode_count_key(k)->kind == tally_kind::late);
  k[16] = 42;
  CHECK_FALSE(decode_count_key(k));
  CHECK_FALSE(decode_u64("1234567"));
}

TEST_CASE("compacting the ads leaves them in sorted files past level 0, all readable", "[state]") {
  testutil::temp_dir dir;
  {
    auto db = open_store(dir.path());
    for (std::uint64_t first = 1; first <= 3000; first += 1000) {
      write_batch b;
      for (std::uint64_t id = first; id < first + 1000; ++id) b.put_ad(ad(id, "adv-a"), std::nullopt);
      REQUIRE_FALSE(db->write(b, true));
    }
    REQUIRE_FALSE(db->compact_ads());
  }
  std::string level0;
  std::size_t files = 0;
  with_raw_families(dir.path(), [&](rocksdb::DB& raw, const std::string& name,
                                    rocksdb::ColumnFamilyHandle* h) {
    if (name != kAdsFamily) return;
    REQUIRE(raw.GetProperty(h, "rocksdb.num-files-at-level0", &level0));
    rocksdb::ColumnFamilyMetaData meta;
    raw.GetColumnFamilyMetaData(h, &meta);
    files = meta.file_count;
  });
  CHECK(level0 == "0");
  CHECK(files > 0);  // the ads left the write-ahead log for sorted files
  auto db = open_store(dir.path());
  for (const std::uint64_t id : {1ull, 1500ull, 3000ull}) {
    auto a = db->get_ad(id);
    REQUIRE(a);
    REQUIRE(*a);
    CHECK((*a)->advertiser_id == "adv-a");
  }
}

TEST_CASE("a second open of the same database is refused", "[state]") {
  testutil::temp_dir dir;
  auto db = open_store(dir.path());
  std::string err;
  auto again = store::open(dir.path(), err);
  CHECK_FALSE(again);
  CHECK_THAT(err, Catch::Contains("cannot open RocksDB"));
}

TEST_CASE("expired dedup keys are dropped by compaction, live ones stay", "[state]") {
  testutil::temp_dir dir;
  auto db = open_store(dir.path());
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  write_batch b;
  b.put_dedup(1, "expired-long-ago", now - 86400);
  b.put_dedup(1, "expired-just-now", now - 1);
  b.put_dedup(1, "valid-for-an-hour", now + 3600);
  b.put_dedup(2, "valid-for-a-day", now + 86400);
  REQUIRE_FALSE(db->write(b, true));
  REQUIRE_FALSE(db->compact_dedup());
  auto gone1 = db->get_dedup(1, "expired-long-ago");
  auto gone2 = db->get_dedup(1, "expired-just-now");
  auto kept1 = db->get_dedup(1, "valid-for-an-hour");
  auto kept2 = db->get_dedup(2, "valid-for-a-day");
  REQUIRE((gone1 && gone2 && kept1 && kept2));
  CHECK_FALSE(gone1->has_value());
  CHECK_FALSE(gone2->has_value());
  CHECK(kept1->has_value());
  CHECK(kept2->has_value());
}
