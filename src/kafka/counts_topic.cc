#include "kafka/counts_topic.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <tuple>

#include "base/checksum.h"
#include "kafka/kafka_errc.h"
#include "log/log_errc.h"
#include "state/store.h"

namespace adclick::kafka {
namespace {

constexpr int kReadBatch = 1024;

// The counts partition of a source: every record of one source in one
// partition, so that its marks follow its partials.
std::int32_t counts_partition_of(std::string_view source, std::int32_t partitions) {
  return static_cast<std::int32_t>(base::checksum32(source.data(), source.size()) %
                                   static_cast<std::uint32_t>(partitions));
}

// "p<N>" -> N.
std::optional<std::uint32_t> partition_of_source(std::string_view source) {
  if (source.size() < 2 || source[0] != 'p') return std::nullopt;
  std::uint32_t n = 0;
  const auto* end = source.data() + source.size();
  const auto r = std::from_chars(source.data() + 1, end, n);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return n;
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) return;
  spdlog::warn("kafka: {}: {} ({})", rd_kafka_name(rk), reason, rd_kafka_err2name(e));
}

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* /*opaque*/);

void publisher_callbacks(rd_kafka_conf_t* conf, void* /*opaque*/) {
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  rd_kafka_conf_set_error_cb(conf, &on_error);
}

void consumer_callbacks(rd_kafka_conf_t* conf, void* /*opaque*/) { rd_kafka_conf_set_error_cb(conf, &on_error); }

// The counts topic's partition count, or an error line.
result<std::int32_t> topic_partitions(rd_kafka_t* rk, const std::string& topic, const std::string& servers,
                                      std::chrono::milliseconds timeout, std::string& error_line) {
  topic_handle probe(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk, 0, probe.get(), &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error_line = fmt::format("kafka: no answer from {} within {} ms: {}", servers, timeout.count(),
                             rd_kafka_err2str(err));
    return make_kafka_error(err);
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> hold(md, &rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topics[0].partition_cnt <= 0) {
    const auto terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    error_line = fmt::format("kafka: counts topic \"{}\" on {}: {} (create it, compacted, with any partition count)",
                             topic, servers, rd_kafka_err2str(terr));
    return make_kafka_error(terr != RD_KAFKA_RESP_ERR_NO_ERROR ? terr : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  }
  return md->topics[0].partition_cnt;
}

}  // namespace

struct counts_publisher::batch {
  base::mutex mu;
  std::condition_variable cv;
  std::size_t outstanding GUARDED_BY(mu) = 0;
  std::error_code first_error GUARDED_BY(mu);

  void done(std::error_code ec) {
    base::mutex_lock lk(mu);
    if (ec && !first_error) first_error = ec;
    --outstanding;
    if (outstanding == 0) cv.notify_all();
  }
};

namespace {
void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* /*opaque*/) {
  auto* b = static_cast<counts_publisher::batch*>(m->_private);
  b->done(m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? std::error_code{} : make_kafka_error(m->err));
}
}  // namespace

result<std::unique_ptr<counts_publisher>> counts_publisher::open(const counts_options& o, std::string& error_line) {
  const std::vector<std::pair<std::string, std::string>> props = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(o.publish_timeout.count())},
      {"linger.ms", "1"},
      {"allow.auto.create.topics", "false"},
  };
  auto producer = make_client(client_kind::producer, o.client, props, &publisher_callbacks, nullptr, error_line);
  if (!producer) return producer.error();
  auto parts = topic_partitions(producer->get(), o.topic, o.client.bootstrap_servers, o.open_timeout, error_line);
  if (!parts) return parts.error();
  std::unique_ptr<counts_publisher> p(new counts_publisher(o, *parts));
  p->producer_ = std::move(*producer);
  p->topic_.reset(rd_kafka_topic_new(p->producer_.get(), o.topic.c_str(), nullptr));
  return p;
}

counts_publisher::~counts_publisher() {
  if (producer_) {
    rd_kafka_flush(producer_.get(), static_cast<int>(options_.publish_timeout.count()));
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
  }
}

std::error_code counts_publisher::produce(batch& b, const partial& p) {
  std::string key;
  std::string value;
  if (!encode_partial(p, key, value)) return log::log_errc::bad_layout;
  const auto part = counts_partition_of(p.source, partitions_);
  {
    base::mutex_lock lk(b.mu);
    ++b.outstanding;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.publish_timeout;
  for (;;) {
    if (rd_kafka_produce(topic_.get(), part, RD_KAFKA_MSG_F_COPY, value.data(), value.size(), key.data(), key.size(),
                         &b) == 0) {
      return {};
    }
    const auto err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) {
      b.done({});  // never queued
      return make_kafka_error(err);
    }
    rd_kafka_poll(producer_.get(), 10);
  }
}

std::error_code counts_publisher::publish(const std::vector<agg::partial_count>& partials,
                                          const std::vector<agg::flush_mark>& marks) {
  base::mutex_lock one(mu_);
  batch b;
  std::error_code failed;
  for (const auto& c : partials) {
    partial p{agg::partition_source(c.partition), c.ad_id, c.minute, static_cast<std::uint8_t>(c.kind), c.value,
              c.version};
    if ((failed = produce(b, p))) break;
  }
  for (const auto& m : marks) {
    if (failed) break;
    partial p{agg::partition_source(m.partition), 0, 0, kMarkKind, static_cast<std::uint64_t>(m.watermark_ms),
              m.version};
    failed = produce(b, p);
  }
  return finish(b, failed);
}

std::error_code counts_publisher::publish(const std::vector<agg::source_partial>& partials) {
  base::mutex_lock one(mu_);
  batch b;
  std::error_code failed;
  for (const auto& c : partials) {
    partial p{c.source, c.ad_id, c.minute, static_cast<std::uint8_t>(c.kind), c.value, c.version};
    if ((failed = produce(b, p))) break;
  }
  return finish(b, failed);
}

std::error_code counts_publisher::finish(batch& b, std::error_code failed) {
  // Every record queued gets its report (delivered, failed or timed out by
  // message.timeout.ms), served here.
  const auto deadline = std::chrono::steady_clock::now() + options_.publish_timeout + std::chrono::seconds(15);
  for (;;) {
    {
      base::mutex_lock lk(b.mu);
      if (b.outstanding == 0) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // librdkafka still holds records pointing at `b`: purge them and
      // collect their reports before `b` goes.
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      while (true) {
        rd_kafka_poll(producer_.get(), 100);
        base::mutex_lock lk(b.mu);
        if (b.outstanding == 0) break;
      }
      return log::log_errc::timed_out;
    }
    rd_kafka_poll(producer_.get(), 20);
  }
  if (failed) return failed;
  base::mutex_lock lk(b.mu);
  return b.first_error;
}

void counts_materializer::queue_deleter::operator()(rd_kafka_queue_t* q) const noexcept {
  if (q != nullptr) rd_kafka_queue_destroy(q);
}

result<std::unique_ptr<counts_materializer>> counts_materializer::open(const counts_options& o,
                                                                       state::store& store, agg::partials_lock& lock,
                                                                       std::uint32_t partitions,
                                                                       std::string& error_line) {
  const std::vector<std::pair<std::string, std::string>> props = {
      {"enable.auto.commit", "false"},          {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},        {"fetch.wait.max.ms", "50"},
      {"queued.max.messages.kbytes", "16384"},  {"enable.partition.eof", "false"},
      {"check.crcs", "true"},                   {"allow.auto.create.topics", "false"}};
  auto consumer = make_client(client_kind::consumer, o.client, props, &consumer_callbacks, nullptr, error_line);
  if (!consumer) return consumer.error();
  auto parts = topic_partitions(consumer->get(), o.topic, o.client.bootstrap_servers, o.open_timeout, error_line);
  if (!parts) return parts.error();
  std::unique_ptr<counts_materializer> m(new counts_materializer(o, store, lock, partitions, *parts));
  m->consumer_ = std::move(*consumer);
  m->topic_.reset(rd_kafka_topic_new(m->consumer_.get(), o.topic.c_str(), nullptr));
  m->queue_.reset(rd_kafka_queue_new(m->consumer_.get()));
  {
    base::mutex_lock lk(m->progress_mu_);
    m->read_through_.assign(static_cast<std::size_t>(*parts), 0);
  }
  for (std::int32_t cp = 0; cp < *parts; ++cp) {
    auto pos = store.get_counts_position(static_cast<std::uint32_t>(cp));
    if (!pos) {
      error_line = "state: cannot read the counts topic's positions: " + pos.error().message();
      return pos.error();
    }
    m->next_[static_cast<std::size_t>(cp)] = static_cast<std::int64_t>(pos->value_or(0));
  }
  return m;
}

counts_materializer::~counts_materializer() { stop(); }

void counts_materializer::start() {
  if (thread_.joinable()) return;
  for (std::int32_t cp = 0; cp < counts_partitions_; ++cp) {
    if (rd_kafka_consume_start_queue(topic_.get(), cp, next_[static_cast<std::size_t>(cp)], queue_.get()) != 0) {
      spdlog::error("kafka: counts topic partition {}: cannot start reading: {}", cp,
                    rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  thread_ = std::thread([this] { run(); });
}

void counts_materializer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (topic_) {
    for (std::int32_t cp = 0; cp < counts_partitions_; ++cp) rd_kafka_consume_stop(topic_.get(), cp);
  }
}

void counts_materializer::set_owned(const std::vector<std::uint32_t>& partitions) {
  base::mutex_lock lk(owned_mu_);
  std::fill(owned_.begin(), owned_.end(), false);
  for (auto p : partitions) {
    if (p < owned_.size()) owned_[p] = true;
  }
}

bool counts_materializer::owned(std::uint32_t partition) const {
  base::mutex_lock lk(owned_mu_);
  return partition < owned_.size() && owned_[partition];
}

bool counts_materializer::wait_caught_up(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::int64_t> ends(static_cast<std::size_t>(counts_partitions_), 0);
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(counts_partitions_), &rd_kafka_topic_partition_list_destroy);
  for (std::int32_t cp = 0; cp < counts_partitions_; ++cp) {
    rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), cp)->offset = RD_KAFKA_OFFSET_END;
  }
  // offsets_for_times keeps to its timeout when the brokers are down.
  if (rd_kafka_offsets_for_times(consumer_.get(), list.get(), static_cast<int>(timeout.count())) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    ends[static_cast<std::size_t>(list->elems[i].partition)] = list->elems[i].offset;
  }
  base::mutex_lock lk(progress_mu_);
  for (;;) {
    bool done = true;
    for (std::size_t cp = 0; cp < ends.size(); ++cp) done = done && read_through_[cp] >= ends[cp];
    if (done) return true;
    if (!lk.wait_until(progress_cv_, deadline)) {
      for (std::size_t cp = 0; cp < ends.size(); ++cp) done = done && read_through_[cp] >= ends[cp];
      return done;
    }
  }
}

materializer_stats counts_materializer::stats() const {
  return {applied_.load(std::memory_order_relaxed), replayed_.load(std::memory_order_relaxed),
          corrupt_.load(std::memory_order_relaxed), read_.load(std::memory_order_relaxed)};
}

std::int64_t counts_materializer::position_to_store(std::int32_t counts_partition, std::int64_t next,
                                                    const std::string& except) const {
  std::int64_t pos = next;
  for (const auto& [source, pend] : pending_) {
    if (source != except && pend.counts_partition == counts_partition && pend.first_offset >= 0) {
      pos = std::min(pos, pend.first_offset);
    }
  }
  return pos;
}

void counts_materializer::apply_loose() {
  if (loose_.empty()) return;
  std::size_t changed = 0;
  for (int attempt = 0; !stop_.load(std::memory_order_relaxed); ++attempt) {
    std::error_code ec;
    changed = 0;
    {
      base::mutex_lock lk(lock_.mu);
      state::write_batch b;
      std::vector<std::pair<std::int64_t, std::uint64_t>> active;
      // One batch may hold a cell twice: the later record is the newer.
      std::map<std::string, state::partial_value> seen;
      std::map<std::tuple<std::uint64_t, std::int64_t, std::uint8_t>, std::uint64_t> sums;
      for (const auto& p : loose_) {
        const auto kind = static_cast<state::tally_kind>(p.kind);
        const auto key = state::partial_key(p.ad_id, p.minute, kind, p.source);
        std::optional<state::partial_value> old;
        if (auto it = seen.find(key); it != seen.end()) {
          old = it->second;
        } else {
          auto stored = store_.get_partial(p.ad_id, p.minute, kind, p.source);
          if (!stored) {
            ec = stored.error();
            break;
          }
          old = *stored;
        }
        if (old && old->version >= p.version) continue;
        const auto cell = std::make_tuple(p.ad_id, p.minute, p.kind);
        auto sum = sums.find(cell);
        if (sum == sums.end()) {
          auto s0 = store_.sum_partials(p.ad_id, p.minute, kind);
          if (!s0) {
            ec = s0.error();
            break;
          }
          sum = sums.emplace(cell, *s0).first;
        }
        ++changed;
        sum->second += p.value - (old ? old->value : 0);
        seen[key] = {p.value, p.version};
        b.put_partial(p.ad_id, p.minute, kind, p.source, {p.value, p.version});
        b.set_count(p.ad_id, p.minute, kind, sum->second);
        if (kind == state::tally_kind::clicks) active.emplace_back(state::row_hour(p.minute), p.ad_id);
      }
      if (!ec && changed == 0) break;  // all already held (this node's own, or replays)
      if (!ec) {
        std::sort(active.begin(), active.end());
        active.erase(std::unique(active.begin(), active.end()), active.end());
        for (const auto& [hour, ad] : active) b.put_active(hour, ad);
        for (std::int32_t cp = 0; cp < counts_partitions_; ++cp) {
          b.put_counts_position(static_cast<std::uint32_t>(cp),
                                static_cast<std::uint64_t>(position_to_store(cp, next_[static_cast<std::size_t>(cp)], "")));
        }
        ec = store_.write(b, true);
      }
    }
    if (!ec) break;
    spdlog::error("kafka: applying {} partials of the counts topic failed, retrying: {}", loose_.size(), ec.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
  }
  if (changed > 0) applied_.fetch_add(1, std::memory_order_relaxed);
  loose_.clear();
}

void counts_materializer::run() {
  rd_kafka_message_t* batch[kReadBatch];
  while (!stop_.load(std::memory_order_relaxed)) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 100, batch, kReadBatch);
    for (ssize_t i = 0; i < n; ++i) {
      const rd_kafka_message_t& m = *batch[i];
      if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR && m.offset >= next_[static_cast<std::size_t>(m.partition)]) {
        partial p;
        const std::string_view key(static_cast<const char*>(m.key), m.key_len);
        const std::string_view value(static_cast<const char*>(m.payload), m.len);
        read_.fetch_add(1, std::memory_order_relaxed);
        if (m.key == nullptr || m.payload == nullptr || !decode_partial(key, value, p)) {
          corrupt_.fetch_add(1, std::memory_order_relaxed);
          spdlog::error("kafka: counts topic partition {} offset {}: a damaged record, not counted", m.partition,
                        m.offset);
        } else {
          take(m.partition, m.offset, p);
        }
        next_[static_cast<std::size_t>(m.partition)] = m.offset + 1;
      } else if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR && m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka: counts topic partition {}: {}", m.partition, rd_kafka_message_errstr(&m));
      }
      rd_kafka_message_destroy(batch[i]);
    }
    apply_loose();
    // What has been read (and applied where whole) is known to waiters;
    // high watermarks seen by the fetches say where the ends are.
    base::mutex_lock lk(progress_mu_);
    for (std::size_t cp = 0; cp < next_.size(); ++cp) read_through_[cp] = next_[cp];
    progress_cv_.notify_all();
  }
}

void counts_materializer::take(std::int32_t counts_partition, std::int64_t offset, const partial& p) {
  const auto partition = partition_of_source(p.source);
  if (!partition) {
    if (p.kind < state::kTallyKinds) {
      loose_.push_back(p);
    } else {
      corrupt_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("kafka: counts topic partition {} offset {}: a partial of source \"{}\" with kind {}, skipped",
                    counts_partition, offset, p.source, p.kind);
    }
    return;
  }
  if (owned(*partition)) {
    pending_.erase(p.source);
    return;
  }
  auto& pend = pending_[p.source];
  if (pend.first_offset < 0) {
    pend.counts_partition = counts_partition;
    pend.first_offset = offset;
  }
  if (p.kind != kMarkKind) {
    pend.partials.push_back(p);
    return;
  }
  // A whole flush: apply it (a failure is retried: the state is the truth,
  // and the records are read again after a restart).
  for (int attempt = 0; !stop_.load(std::memory_order_relaxed); ++attempt) {
    const auto ec = apply(counts_partition, offset, *partition, p);
    if (!ec) break;
    spdlog::error("kafka: applying partition {}'s flush at offset {} failed, retrying: {}", *partition, p.version,
                  ec.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
  }
  // What was above the mark waits for the next one.
  auto& rest = pend.partials;
  rest.erase(std::remove_if(rest.begin(), rest.end(), [&](const partial& q) { return q.version <= p.version; }),
             rest.end());
  if (rest.empty()) pending_.erase(p.source);
}

std::error_code counts_materializer::apply(std::int32_t counts_partition, std::int64_t offset,
                                           std::uint32_t partition, const partial& mark) {
  const auto& flush = pending_[mark.source].partials;
  base::mutex_lock lk(lock_.mu);
  auto stored = store_.get_offset(partition);
  if (!stored) return stored.error();
  if (mark.version <= stored->value_or(0)) {
    replayed_.fetch_add(1, std::memory_order_relaxed);
    if (mark.version < stored->value_or(0) || !flush.empty()) return {};
    // A mark of an idle partition: its watermark moves on (not synced: the
    // next one carries it again).
    auto wm = store_.get_partition_watermark(partition);
    if (!wm) return wm.error();
    const auto mark_wm = static_cast<std::int64_t>(mark.value);
    if (wm->has_value() && **wm >= mark_wm) return {};
    state::write_batch b;
    b.put_partition_watermark(partition, mark_wm);
    return store_.write(b, false);
  }
  const std::int64_t pos = position_to_store(counts_partition, offset + 1, mark.source);
  state::write_batch b;
  std::vector<std::pair<std::int64_t, std::uint64_t>> active;
  // One partial per cell, the latest at or below the mark (a flush a
  // crashed publisher left without its mark may have published a cell
  // too: its later values wait for a later mark), in (ad, minute, kind)
  // order.
  std::vector<const partial*> cells;
  cells.reserve(flush.size());
  for (const auto& p : flush) {
    if (p.version <= mark.version) cells.push_back(&p);
  }
  std::sort(cells.begin(), cells.end(), [](const partial* a, const partial* c) {
    if (a->ad_id != c->ad_id) return a->ad_id < c->ad_id;
    if (a->minute != c->minute) return a->minute < c->minute;
    if (a->kind != c->kind) return a->kind < c->kind;
    return a->version > c->version;
  });
  cells.erase(std::unique(cells.begin(), cells.end(),
                          [](const partial* a, const partial* c) {
                            return a->ad_id == c->ad_id && a->minute == c->minute && a->kind == c->kind;
                          }),
              cells.end());
  for (const partial* p : cells) {
    const auto kind = static_cast<state::tally_kind>(p->kind);
    if (p->kind >= state::kTallyKinds) continue;
    auto old = store_.get_partial(p->ad_id, p->minute, kind, p->source);
    if (!old) return old.error();
    auto sum = store_.sum_partials(p->ad_id, p->minute, kind);
    if (!sum) return sum.error();
    const std::uint64_t before = old->has_value() ? (*old)->value : 0;
    b.put_partial(p->ad_id, p->minute, kind, p->source, {p->value, p->version});
    b.set_count(p->ad_id, p->minute, kind, *sum - before + p->value);
    if (kind == state::tally_kind::clicks) active.emplace_back(state::row_hour(p->minute), p->ad_id);
  }
  std::sort(active.begin(), active.end());
  active.erase(std::unique(active.begin(), active.end()), active.end());
  for (const auto& [hour, ad] : active) b.put_active(hour, ad);
  b.put_offset(partition, mark.version);
  // Finality never goes back (a new owner's shard may start behind).
  auto wm = store_.get_partition_watermark(partition);
  if (!wm) return wm.error();
  b.put_partition_watermark(partition, std::max(wm->value_or(INT64_MIN), static_cast<std::int64_t>(mark.value)));
  b.put_counts_position(static_cast<std::uint32_t>(counts_partition), static_cast<std::uint64_t>(pos));
  if (auto ec = store_.write(b, true)) return ec;
  applied_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

}  // namespace adclick::kafka
