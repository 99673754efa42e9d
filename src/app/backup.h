#pragma once
// Online backup and restore of a data dir with the embedded log.
//
// A backup directory holds:
//   state/         a RocksDB checkpoint: every family as of one moment
//   log/           LOG_META, HOLES and pNNNN/: sealed segments and their
//                  indexes hard-linked where the file system allows (copied
//                  otherwise), the active segment copied up to its durable end
//   manifest.json  the cut (per partition, the offsets [start, end) held),
//                  every file with its size and XXH3-128, and the XXH3-128 of
//                  the manifest itself
//
// Consistency: every partition of the log is pinned (retention deletes no
// segment meanwhile), then the checkpoint is taken, then the log's files are
// listed. Every offset the checkpoint stores (the shards' applied offsets,
// the batch layer's progress) was durable when it was taken, so it is at or
// below the cut, and a server restored from the backup replays the log from
// those offsets to the cut: its counts are the cut's records, each once.
// Every click acknowledged before the backup started is below the cut.
//
// Durability: each file and directory of the backup is fsynced before
// manifest.json is written (temporary name, fsync, rename, fsync of the
// directory); a directory without manifest.json is not a backup.
//
// A hard-linked segment is the live file: a later repair of that segment in
// the live data dir would change the backup too (verify notices).

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace adclick::log {
class segmented_log;
}
namespace adclick::state {
class store;
}

namespace adclick::app {

enum class backup_failure {
  invalid,   // the request: a path that is not absolute, a file where a directory must be
  conflict,  // the directory is not empty, or another backup is running
  failed,    // I/O, RocksDB, or a fenced log
};

struct backup_error {
  backup_failure kind = backup_failure::failed;
  std::string line;  // one line: what and where
};

// Backs up a running server's log and state into `dest` (an absolute path
// to an empty or new directory outside `data_dir`; its parent must exist),
// reading and copying at most `max_rate` bytes/s (0: no limit). Gives up
// when *cancel turns true (a stopping server). Returns the manifest's JSON
// text.
[[nodiscard]] std::optional<std::string> take_backup(
    log::segmented_log& log, state::store& st, const std::string& data_dir, const std::string& dest,
    std::uint64_t max_rate, const std::atomic<bool>* cancel, backup_error& err);

// Checks a backup: the manifest's own checksum, and every file it lists for
// its size and checksum. `line` says what was found (or the first problem).
[[nodiscard]] bool verify_backup(const std::string& dir, std::string& line);

// Fills `data_dir` (absent or empty) from the backup in `from`, verified
// first: every file copied and checked again, fsynced, with its directory.
// The data dir's LOCK is held meanwhile, and a RESTORING marker
// (kRestoringMarker) stays until the end, so a server refuses a data dir
// whose restore did not finish. Only manifest entries under log/ and state/
// are accepted, and no symbolic link is followed.
// `line` says what was restored, or why not.
[[nodiscard]] bool restore_backup(const std::string& from, const std::string& data_dir,
                                  std::string& line);

}  // namespace adclick::app
