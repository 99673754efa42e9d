#include "kafka/kafka_log.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>

#include "kafka/kafka_errc.h"
#include "log/log_errc.h"
#include "log/record_format.h"

namespace adclick::kafka {
namespace {

constexpr int kReadBatch = 1024;
// How often the watermarks are asked of the brokers (a reader's fetches
// report them more often), and how long an unanswered broker is reachable.
constexpr auto kWatermarkQuery = std::chrono::milliseconds(500);
constexpr auto kReachableFor = std::chrono::seconds(2);
constexpr int kQueryTimeoutMs = 1000;
constexpr int kFetchWaitMs = 200;

std::error_code delivery_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
      return log::log_errc::timed_out;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return log::log_errc::overloaded;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
      return log::log_errc::stopped;
    default:
      return make_kafka_error(err);
  }
}

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<kafka_log*>(opaque);
  auto* f = static_cast<kafka_log::in_flight*>(m->_private);
  self->report(f, m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? std::error_code{} : delivery_error(m->err),
               static_cast<log::partition_id>(m->partition), m->offset);
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  // Lost connections are logged by librdkafka itself, and retried.
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) return;
  spdlog::warn("kafka: {}: {} ({})", rd_kafka_name(rk), reason,
               rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
}

void producer_callbacks(rd_kafka_conf_t* conf, void* /*opaque*/) {
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  rd_kafka_conf_set_error_cb(conf, &on_error);
}

void consumer_callbacks(rd_kafka_conf_t* conf, void* /*opaque*/) { rd_kafka_conf_set_error_cb(conf, &on_error); }

// The librdkafka properties of a reader's handle: no group, no commits, a
// position out of range reported (never reset behind the reader's back),
// fetches that return soon, and a bounded prefetch.
const std::vector<std::pair<std::string, std::string>> kReaderProperties = {
    {"enable.auto.commit", "false"},          {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "error"},           {"fetch.wait.max.ms", "20"},
    {"queued.max.messages.kbytes", "16384"},  {"fetch.error.backoff.ms", "50"},
    {"enable.partition.eof", "false"},        {"check.crcs", "true"},
    {"allow.auto.create.topics", "false"}};

}  // namespace

struct kafka_log::in_flight {
  log::append_handler done;
  std::chrono::steady_clock::time_point deadline;
  std::atomic<bool> answered{false};
  std::atomic<int> refs{2};
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// A consumer handle in legacy (simple) mode: each partition is started at
// most once per handle, so two readers of one partition use two handles.
struct kafka_log::reader_client {
  handle rk;
  topic_handle topic;
  std::vector<bool> in_use;  // per partition; guarded by kafka_log::readers_mu_
};

namespace {

class kafka_reader final : public log::partition_reader {
 public:
  kafka_reader(kafka_log& log, kafka_log::reader_client& client, log::partition_id p, log::offset_t from)
      : log_(log), client_(client), p_(p), position_(from) {
    start(from);
  }
  ~kafka_reader() override {
    rd_kafka_consume_stop(client_.topic.get(), static_cast<std::int32_t>(p_));
    log_.release_reader(&client_, p_);
  }

  result<std::size_t> read(std::size_t max_records, const std::function<void(log::offset_t, const click_view&)>& fn,
                           std::vector<log::corruption>* skipped) override {
    std::size_t delivered = 0;
    rd_kafka_message_t* batch[kReadBatch];
    bool waited = false;
    while (delivered < max_records) {
      const auto want = std::min<std::size_t>(kReadBatch, max_records - delivered);
      // Records known to be below the high watermark but not fetched yet
      // are waited for a little, so that 0 means "at the end" (a shard's
      // recovery replays until then), not "not here yet".
      const bool wait = !waited && delivered == 0 && position_ < log_.durable_end(p_);
      waited = waited || wait;
      const ssize_t n = rd_kafka_consume_batch(client_.topic.get(), static_cast<std::int32_t>(p_),
                                               wait ? kFetchWaitMs : 0, batch, want);
      if (n < 0) return make_kafka_error(rd_kafka_last_error());
      if (n == 0) break;
      std::error_code failed;
      for (ssize_t i = 0; i < n; ++i) {
        if (!failed) failed = take(*batch[i], fn, skipped, delivered);
        rd_kafka_message_destroy(batch[i]);
      }
      if (failed) return failed;
    }
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_get_watermark_offsets(client_.rk.get(), rd_kafka_topic_name(client_.topic.get()),
                                       static_cast<std::int32_t>(p_), &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      log_.saw_end(p_, low, high);
    }
    return delivered;
  }

  log::offset_t position() const override { return position_; }

  void seek(log::offset_t offset) override {
    rd_kafka_consume_stop(client_.topic.get(), static_cast<std::int32_t>(p_));
    position_ = offset;
    start(offset);
  }

 private:
  void start(log::offset_t from) {
    const auto low = log_.start_offset(p_);
    if (from < low) position_ = low;
    if (rd_kafka_consume_start(client_.topic.get(), static_cast<std::int32_t>(p_),
                               static_cast<std::int64_t>(position_)) != 0) {
      spdlog::error("kafka: partition {}: cannot start reading at {}: {}", p_, position_,
                    rd_kafka_err2str(rd_kafka_last_error()));
    }
  }

  std::error_code take(const rd_kafka_message_t& m, const std::function<void(log::offset_t, const click_view&)>& fn,
                       std::vector<log::corruption>* skipped, std::size_t& delivered) {
    if (m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      // Below the oldest retained record: go on from it. Beyond the end:
      // the topic lost records this reader's owner has counted.
      const auto low = log_.start_offset(p_);
      if (position_ < low) {
        spdlog::warn("kafka: partition {}: offsets {} to {} are past retention; reading on from {}", p_,
                     position_, low, low);
        seek(low);
        return {};
      }
      spdlog::error("kafka: partition {}: offset {} is beyond the topic's end {}", p_, position_,
                    log_.durable_end(p_));
      return log::log_errc::bad_layout;
    }
    if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka: partition {}: {}", p_, rd_kafka_err2str(m.err));
      return {};
    }
    if (m.offset < 0 || static_cast<log::offset_t>(m.offset) < position_) return {};  // from before a seek
    const auto offset = static_cast<log::offset_t>(m.offset);
    position_ = offset + 1;
    const auto* bytes = static_cast<const char*>(m.payload);
    std::size_t size = 0;
    click_view v;
    const bool ok = bytes != nullptr &&
                    log::format::check_frame(bytes, m.len, size) == log::format::frame_check::ok &&
                    size == m.len &&
                    static_cast<std::uint8_t>(bytes[log::format::kFrameTypePos]) == log::format::kTypeClick &&
                    log::format::decode_click(
                        std::string_view(bytes + log::format::kFrameHeaderSize, m.len - log::format::kFrameHeaderSize),
                        v);
    if (!ok) {
      // A record that is not a well-formed click: reported, never counted.
      spdlog::error("kafka: partition {}: the record at offset {} is damaged ({} bytes); skipped", p_, offset, m.len);
      if (skipped != nullptr) skipped->push_back({p_, 0, offset, m.len});
      return {};
    }
    fn(offset, v);
    ++delivered;
    return {};
  }

  kafka_log& log_;
  kafka_log::reader_client& client_;
  const log::partition_id p_;
  log::offset_t position_;
};

}  // namespace

kafka_log::kafka_log(const kafka_log_options& o, std::uint32_t partitions)
    : options_(o),
      partitions_(partitions),
      high_(new std::atomic<std::int64_t>[partitions]),
      low_(new std::atomic<std::int64_t>[partitions]) {
  for (std::uint32_t p = 0; p < partitions; ++p) {
    high_[p].store(0);
    low_[p].store(0);
  }
  base::mutex_lock lk(first_mu_);
  first_.resize(partitions);
}

result<std::unique_ptr<kafka_log>> kafka_log::open(const kafka_log_options& o, std::string& error_line) {
  std::unique_ptr<kafka_log> log(new kafka_log(o, o.partitions));
  const std::vector<std::pair<std::string, std::string>> producer_props = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(o.append_timeout.count())},
      {"linger.ms", "1"},
      {"allow.auto.create.topics", "false"},
  };
  auto producer = make_client(client_kind::producer, o.client, producer_props, &producer_callbacks, log.get(),
                              error_line);
  if (!producer) return producer.error();
  log->producer_ = std::move(*producer);
  auto metadata = make_client(client_kind::consumer, o.client, kReaderProperties, &consumer_callbacks, log.get(),
                              error_line);
  if (!metadata) return metadata.error();
  log->metadata_ = std::move(*metadata);

  // The topic must exist, with the partition count the partitioner uses.
  const rd_kafka_metadata_t* md = nullptr;
  topic_handle probe(rd_kafka_topic_new(log->metadata_.get(), o.topic.c_str(), nullptr));
  const auto err = rd_kafka_metadata(log->metadata_.get(), 0, probe.get(), &md,
                                     static_cast<int>(o.open_timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error_line = fmt::format("kafka: no answer from {} within {} ms: {}", o.client.bootstrap_servers,
                             o.open_timeout.count(), rd_kafka_err2str(err));
    return make_kafka_error(err);
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> hold(md, &rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const auto terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    error_line = fmt::format("kafka: topic \"{}\" on {}: {} (create it with log.partitions = {} partitions)",
                             o.topic, o.client.bootstrap_servers, rd_kafka_err2str(terr), o.partitions);
    return make_kafka_error(terr);
  }
  if (static_cast<std::uint32_t>(md->topics[0].partition_cnt) != o.partitions) {
    error_line = fmt::format(
        "kafka: topic \"{}\" has {} partitions but log.partitions is {}; they must agree (the partition of a "
        "click depends on it)",
        o.topic, md->topics[0].partition_cnt, o.partitions);
    return log::log_errc::partition_mismatch;
  }
  // Where each partition starts and ends now.
  if (const auto ec = log->query_ends(static_cast<int>(o.open_timeout.count()))) {
    error_line = fmt::format("kafka: topic \"{}\": cannot read its partitions' offsets: {}", o.topic, ec.message());
    return ec;
  }
  log->reachable_.store(true);
  // Created only now: a producer's topic handle asks for the topic's
  // metadata, which may create it on a broker that auto-creates topics.
  log->producer_topic_.reset(rd_kafka_topic_new(log->producer_.get(), o.topic.c_str(), nullptr));
  log->producer_poll_ = std::thread([l = log.get()] { l->run_producer_poll(); });
  log->watermarks_ = std::thread([l = log.get()] { l->run_watermarks(); });
  return log;
}

kafka_log::~kafka_log() {
  stop();
  // Readers must be gone by now; their handles close here.
  base::mutex_lock lk(readers_mu_);
  reader_clients_.clear();
}

void kafka_log::stop() {
  if (stopped_.exchange(true)) return;
  stopping_.store(true);
  // What is in flight gets its delivery report (or times out); then any
  // leftover is purged, its handlers told `stopped`.
  if (producer_) {
    rd_kafka_flush(producer_.get(), static_cast<int>(options_.append_timeout.count()));
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  {
    base::mutex_lock lk(wait_mu_);
    wait_cv_.notify_all();
  }
  if (producer_poll_.joinable()) producer_poll_.join();
  if (watermarks_.joinable()) watermarks_.join();
  if (producer_) rd_kafka_poll(producer_.get(), 0);  // the purged ones' reports
  expire(true);
}

void kafka_log::run_producer_poll() {
  while (!stopping_.load(std::memory_order_relaxed)) {
    rd_kafka_poll(producer_.get(), 100);
    expire(false);
  }
}

// Asks the partitions' leaders for their oldest and next offsets (Kafka's
// ListOffsets with "earliest" and "latest"). offsets_for_times keeps to its
// timeout when brokers are down (query_watermark_offsets does not).
std::error_code kafka_log::query_ends(int timeout_ms) {
  for (const std::int64_t which : {RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END}) {
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions_)), &rd_kafka_topic_partition_list_destroy);
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), static_cast<std::int32_t>(p))->offset =
          which;
    }
    const auto err = rd_kafka_offsets_for_times(metadata_.get(), list.get(), timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return make_kafka_error(err);
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) return make_kafka_error(e.err);
      const auto p = static_cast<log::partition_id>(e.partition);
      if (which == RD_KAFKA_OFFSET_BEGINNING) {
        saw_end(p, e.offset, -1);
      } else {
        saw_end(p, -1, e.offset);
      }
    }
  }
  return {};
}

void kafka_log::run_watermarks() {
  auto last_answer = std::chrono::steady_clock::now();
  while (!stopping_.load(std::memory_order_relaxed)) {
    const bool answered = !query_ends(kQueryTimeoutMs);
    const auto now = std::chrono::steady_clock::now();
    if (answered) last_answer = now;
    reachable_.store(now - last_answer < kReachableFor, std::memory_order_relaxed);
    base::mutex_lock lk(wait_mu_);
    (void)lk.wait_until(wait_cv_, now + kWatermarkQuery);
  }
}

void kafka_log::bump() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  base::mutex_lock lk(wait_mu_);
  wait_cv_.notify_all();
}

void kafka_log::report(in_flight* f, std::error_code ec, log::partition_id p, std::int64_t offset) {
  if (!ec) delivered(p, offset);
  if (!f->answered.exchange(true, std::memory_order_acq_rel)) {
    f->done(ec, ec ? 0 : static_cast<log::offset_t>(offset));
  } else if (!ec) {
    // Answered timed_out by the deadline, in the topic all the same.
    late_deliveries_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("kafka: partition {}: the record at offset {} was delivered after its click was answered unrecorded",
                 p, offset);
  }
  f->release();
}

void kafka_log::expire(bool all) {
  const auto now = std::chrono::steady_clock::now();
  for (;;) {
    in_flight* f = nullptr;
    {
      base::mutex_lock lk(deadlines_mu_);
      // Answered ones leave at once (the queue holds only what may still
      // need its deadline), the rest when their deadline has passed.
      if (deadlines_.empty()) return;
      const in_flight* front = deadlines_.front();
      if (!all && front->deadline > now && !front->answered.load(std::memory_order_acquire)) return;
      f = deadlines_.front();
      deadlines_.pop_front();
    }
    if (!f->answered.exchange(true, std::memory_order_acq_rel)) f->done(log::log_errc::timed_out, 0);
    f->release();
  }
}

void kafka_log::delivered(log::partition_id p, std::int64_t offset) {
  reachable_.store(true, std::memory_order_relaxed);
  saw_end(p, -1, offset + 1);
}

void kafka_log::saw_end(log::partition_id p, std::int64_t low, std::int64_t high) {
  if (p >= partitions_) return;
  bool moved = false;
  auto& h = high_[p];
  std::int64_t cur = h.load(std::memory_order_relaxed);
  while (high > cur) {
    if (h.compare_exchange_weak(cur, high, std::memory_order_acq_rel)) {
      moved = true;
      break;
    }
  }
  auto& l = low_[p];
  cur = l.load(std::memory_order_relaxed);
  while (low > cur && !l.compare_exchange_weak(cur, low, std::memory_order_acq_rel)) {
  }
  if (moved) bump();
}

void kafka_log::append(log::partition_id p, const click_record& r, log::append_handler done) {
  if (stopping_.load(std::memory_order_relaxed)) {
    done(log::log_errc::stopped, 0);
    return;
  }
  if (!reachable_.load(std::memory_order_relaxed)) {
    done(log::log_errc::unreachable, 0);
    return;
  }
  if (p >= partitions_) {
    done(log::log_errc::invalid_partition, 0);
    return;
  }
  thread_local std::string frame;
  frame.clear();
  if (!log::format::append_click_frame(frame, r)) {
    done(log::log_errc::invalid_record, 0);
    return;
  }
  log::format::seal_frame(frame.data(), 0);  // Kafka assigns the offset
  // The key: the ad and the partition its salt chose (see ingest::partitioner).
  thread_local std::string key;
  key.clear();
  fmt::format_to(std::back_inserter(key), "{}/{}", r.ad_id, p);
  // From here the message and the deadline queue each hold a reference.
  auto* f = new in_flight{std::move(done), std::chrono::steady_clock::now() + options_.append_timeout};
  const auto err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_RKT(producer_topic_.get()),
                                     RD_KAFKA_V_PARTITION(static_cast<std::int32_t>(p)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_VALUE(frame.data(), frame.size()),
                                     RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_OPAQUE(f), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto d = std::move(f->done);
    delete f;
    d(delivery_error(err), 0);
    return;
  }
  base::mutex_lock lk(deadlines_mu_);
  deadlines_.push_back(f);
}

log::offset_t kafka_log::durable_end(log::partition_id p) const {
  if (p >= partitions_) return 0;
  return static_cast<log::offset_t>(std::max<std::int64_t>(0, high_[p].load(std::memory_order_acquire)));
}

log::offset_t kafka_log::start_offset(log::partition_id p) const {
  if (p >= partitions_) return 0;
  return static_cast<log::offset_t>(std::max<std::int64_t>(0, low_[p].load(std::memory_order_acquire)));
}

std::uint64_t kafka_log::wait_durable(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) const {
  base::mutex_lock lk(wait_mu_);
  while (generation_.load(std::memory_order_acquire) == seen && !stopping_.load(std::memory_order_relaxed)) {
    if (!lk.wait_until(wait_cv_, deadline)) break;
  }
  return generation_.load(std::memory_order_acquire);
}

std::unique_ptr<log::partition_reader> kafka_log::open_reader(log::partition_id p, log::offset_t from) {
  if (p >= partitions_) return nullptr;
  reader_client* client = nullptr;
  {
    base::mutex_lock lk(readers_mu_);
    for (auto& c : reader_clients_) {
      if (!c->in_use[p]) {
        client = c.get();
        break;
      }
    }
    if (client == nullptr) {
      std::string error_line;
      auto s = options_.client;
      s.client_id += fmt::format("-reader{}", reader_clients_.size());
      auto rk = make_client(client_kind::consumer, s, kReaderProperties, &consumer_callbacks, this, error_line);
      if (!rk) {
        // The same settings made the metadata handle: not expected.
        spdlog::error("{}", error_line);
        std::abort();
      }
      auto c = std::make_unique<reader_client>();
      c->topic.reset(rd_kafka_topic_new(rk->get(), options_.topic.c_str(), nullptr));
      c->rk = std::move(*rk);
      c->in_use.assign(partitions_, false);
      client = c.get();
      reader_clients_.push_back(std::move(c));
    }
    client->in_use[p] = true;
  }
  return std::make_unique<kafka_reader>(*this, *client, p, from);
}

void kafka_log::release_reader(reader_client* c, log::partition_id p) {
  base::mutex_lock lk(readers_mu_);
  c->in_use[p] = false;
}

std::vector<log::segment_info> kafka_log::segments(log::partition_id p) const {
  const auto start = start_offset(p);
  const auto end = durable_end(p);
  if (end <= start) return {};
  auto first = first_event_time_ms(p, start);
  if (!first) {
    first = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  }
  return {log::segment_info{start, end, end - start, 0, *first, std::numeric_limits<std::int64_t>::max(), false}};
}

std::optional<std::int64_t> kafka_log::first_event_time_ms(log::partition_id p, log::offset_t start) const {
  {
    base::mutex_lock lk(first_mu_);
    const auto& f = first_[p];
    if (f.known && f.offset == start) return f.event_time_ms;
  }
  // Reading changes nothing a caller of this const function can see: the
  // reader's handle is returned to the pool and the watermarks it reports
  // are the topic's own.
  auto reader = const_cast<kafka_log*>(this)->open_reader(p, start);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  if (!reader) return std::nullopt;
  std::optional<std::int64_t> seen;
  auto n = reader->read(1, [&](log::offset_t /*offset*/, const click_view& v) { seen = v.event_time_ms; });
  if (!n || !seen) return std::nullopt;
  base::mutex_lock lk(first_mu_);
  // A record past `start` (the one at `start` was damaged) stands for it.
  first_[p] = {start, *seen, true};
  return seen;
}

}  // namespace adclick::kafka
