// CountingVfs: while alive, the default SQLite VFS for connections opened from then on is a thin
// wrapper over the one that was default, counting the files SQLite opens by their role. Tests use
// it to prove that work stays in the database and its WAL (no statement or temp journal spilled
// to the temp directory).
//
// Thread safety: the counters are atomic; create and destroy it from one thread while no
// connection opened through it is open (they keep a pointer to it).
#pragma once

#include <sqlite3.h>

#include <atomic>

namespace tenantsync::testing {

class CountingVfs {
 public:
  CountingVfs();
  ~CountingVfs();
  CountingVfs(const CountingVfs&) = delete;
  CountingVfs& operator=(const CountingVfs&) = delete;

  // Files opened for anything but the main database, its WAL and its journal: statement and
  // savepoint journals that spilled, temp databases, sorter and materialisation files.
  int temp_files_opened() const { return temp_files_.load(); }

 private:
  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                  int* out_flags);

  sqlite3_vfs vfs_{};
  sqlite3_vfs* base_ = nullptr;
  std::atomic<int> temp_files_{0};
};

}  // namespace tenantsync::testing
