// The WAL-coalescing VFS (storage/wal_coalescing_vfs.h): what reaches the file and when.
//
// A counting VFS (below, over SQLite's default) sits beneath the shim, so each test sees the
// writes the shim makes; connections opened on the counting VFS directly are the baseline.
#include "storage/wal_coalescing_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

// Counts writes to WAL files and can fail them; everything else goes to the default VFS.
struct Counting {
  static std::atomic<int> wal_writes;
  static std::atomic<bool> fail_wal_writes;
  static sqlite3_vfs vfs;
  static sqlite3_io_methods methods;

  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    bool wal;
  };
  static sqlite3_vfs* Default() { return static_cast<sqlite3_vfs*>(vfs.pAppData); }
  static File* F(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static constexpr int kOffset = 64;

  static int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out) {
    File* f = F(file);
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kOffset);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->base.pMethods = nullptr;
    int rc = Default()->xOpen(Default(), name, f->real, flags, out);
    if (rc != SQLITE_OK) {
      if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
      return rc;
    }
    f->base.pMethods = &methods;
    return SQLITE_OK;
  }
  static int Write(sqlite3_file* file, const void* data, int n, sqlite3_int64 off) {
    File* f = F(file);
    if (f->wal) {
      if (fail_wal_writes.load()) return SQLITE_IOERR_WRITE;
      ++wal_writes;
    }
    return f->real->pMethods->xWrite(f->real, data, n, off);
  }
  static void Register() {
    static std::once_flag once;
    std::call_once(once, [] {
      sqlite3_vfs* d = sqlite3_vfs_find(nullptr);
      ASSERT_LE(sizeof(File), static_cast<size_t>(kOffset));
      vfs = *d;
      vfs.zName = "counting-test";
      vfs.szOsFile = kOffset + d->szOsFile;
      vfs.pAppData = d;
      vfs.pNext = nullptr;
      vfs.xOpen = Open;
      // Every method but xWrite passes straight to the default file.
      methods = sqlite3_io_methods{
          3,
          [](sqlite3_file* f) { return F(f)->real->pMethods->xClose(F(f)->real); },
          [](sqlite3_file* f, void* o, int n, sqlite3_int64 off) {
            return F(f)->real->pMethods->xRead(F(f)->real, o, n, off);
          },
          Write,
          [](sqlite3_file* f, sqlite3_int64 s) {
            return F(f)->real->pMethods->xTruncate(F(f)->real, s);
          },
          [](sqlite3_file* f, int fl) { return F(f)->real->pMethods->xSync(F(f)->real, fl); },
          [](sqlite3_file* f, sqlite3_int64* s) {
            return F(f)->real->pMethods->xFileSize(F(f)->real, s);
          },
          [](sqlite3_file* f, int l) { return F(f)->real->pMethods->xLock(F(f)->real, l); },
          [](sqlite3_file* f, int l) { return F(f)->real->pMethods->xUnlock(F(f)->real, l); },
          [](sqlite3_file* f, int* o) {
            return F(f)->real->pMethods->xCheckReservedLock(F(f)->real, o);
          },
          [](sqlite3_file* f, int op, void* a) {
            return F(f)->real->pMethods->xFileControl(F(f)->real, op, a);
          },
          [](sqlite3_file* f) { return F(f)->real->pMethods->xSectorSize(F(f)->real); },
          [](sqlite3_file* f) { return F(f)->real->pMethods->xDeviceCharacteristics(F(f)->real); },
          [](sqlite3_file* f, int r, int s, int e, void volatile** o) {
            return F(f)->real->pMethods->xShmMap(F(f)->real, r, s, e, o);
          },
          [](sqlite3_file* f, int off, int n, int fl) {
            return F(f)->real->pMethods->xShmLock(F(f)->real, off, n, fl);
          },
          [](sqlite3_file* f) { F(f)->real->pMethods->xShmBarrier(F(f)->real); },
          [](sqlite3_file* f, int del) { return F(f)->real->pMethods->xShmUnmap(F(f)->real, del); },
          [](sqlite3_file* f, sqlite3_int64 off, int n, void** o) {
            return F(f)->real->pMethods->xFetch(F(f)->real, off, n, o);
          },
          [](sqlite3_file* f, sqlite3_int64 off, void* p) {
            return F(f)->real->pMethods->xUnfetch(F(f)->real, off, p);
          },
      };
      ASSERT_EQ(sqlite3_vfs_register(&vfs, 0), SQLITE_OK);
      ASSERT_TRUE(RegisterWalCoalescingVfs("coalescing-test", "counting-test").ok());
    });
  }
};
std::atomic<int> Counting::wal_writes{0};
std::atomic<bool> Counting::fail_wal_writes{false};
sqlite3_vfs Counting::vfs;
sqlite3_io_methods Counting::methods;

// A connection with the options tenantsync's store uses (WAL, synchronous as given).
struct Db {
  sqlite3* db = nullptr;
  Db(const std::string& path, const char* vfs, const char* synchronous = "FULL",
     int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, flags, vfs), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_busy_timeout(db, 5000);
    if ((flags & SQLITE_OPEN_READWRITE) != 0) {
      Exec("PRAGMA journal_mode=WAL");
      Exec(std::string("PRAGMA synchronous=") + synchronous);
    }
  }
  ~Db() { sqlite3_close_v2(db); }
  int Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    return rc;
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
    std::string v;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
  }
};

// Inserts `rows` rows with random keys (each on its own index leaf, as UUID event ids are) in
// one transaction; returns the SQLite result of its COMMIT.
int InsertRandom(Db& d, std::mt19937_64& rng, int rows, int payload = 300) {
  if (d.Exec("BEGIN IMMEDIATE") != SQLITE_OK) return SQLITE_ERROR;
  for (int i = 0; i < rows; ++i) {
    const auto key = std::to_string(rng());
    if (int rc = d.Exec("INSERT INTO t (k, v) VALUES ('" + key + "', zeroblob(" +
                        std::to_string(payload) + "))");
        rc != SQLITE_OK) {
      d.Exec("ROLLBACK");
      return rc;
    }
  }
  int rc = d.Exec("COMMIT");
  if (rc != SQLITE_OK) d.Exec("ROLLBACK");
  return rc;
}

class WalCoalescingVfs : public ::testing::Test {
 protected:
  void SetUp() override {
    Counting::Register();
    Counting::fail_wal_writes = false;
    path_ = testing::MakeTempDir("wal-vfs-test") + "/t.db";
    Db setup(path_, "counting-test");
    ASSERT_EQ(setup.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)"),
              SQLITE_OK);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(InsertRandom(setup, rng, 500), SQLITE_OK);
  }

  std::string path_;
};

TEST_F(WalCoalescingVfs, ACommitWritesItsWalFramesWithOneWrite) {
  std::mt19937_64 rng(11);
  Db plain(path_, "counting-test");
  Counting::wal_writes = 0;
  ASSERT_EQ(InsertRandom(plain, rng, 20), SQLITE_OK);
  const int plain_writes = Counting::wal_writes.load();

  Db shim(path_, "coalescing-test");
  Counting::wal_writes = 0;
  ASSERT_EQ(InsertRandom(shim, rng, 20), SQLITE_OK);
  const int shim_writes = Counting::wal_writes.load();

  // 20 random keys dirty ~20 index leaves: two writes per frame without the shim.
  EXPECT_GE(plain_writes, 30);
  EXPECT_EQ(shim_writes, 1) << "without the shim: " << plain_writes;
}

TEST_F(WalCoalescingVfs, ACommitIsInTheFileWhenItReturns) {
  Db shim(path_, "coalescing-test");
  std::mt19937_64 rng(12);
  const int64_t before = shim.Int("SELECT count(*) FROM t");
  ASSERT_EQ(InsertRandom(shim, rng, 50), SQLITE_OK);
  // A connection that shares nothing with the shim (SQLite's own VFS) reads the file: the
  // commit's frames must be there while the writing connection is still open.
  Db other(path_, nullptr, "FULL", SQLITE_OPEN_READONLY);
  EXPECT_EQ(other.Int("SELECT count(*) FROM t"), before + 50);
  EXPECT_EQ(other.Text("PRAGMA quick_check"), "ok");
}

TEST_F(WalCoalescingVfs, ReadersNeverSeeAFrameThatIsNotYetInTheFile) {
  // synchronous=NORMAL does not sync the WAL at commit: only the wal-index barrier stands
  // between a commit being visible and its frames being written.
  for (const char* synchronous : {"NORMAL", "FULL"}) {
    SCOPED_TRACE(synchronous);
    std::atomic<bool> done{false};
    std::atomic<int> committed{0};
    int64_t base = 0;
    {
      Db probe(path_, "counting-test");
      base = probe.Int("SELECT count(*) FROM t");
    }
    std::thread writer([&] {
      Db shim(path_, "coalescing-test", synchronous);
      std::mt19937_64 rng(std::strlen(synchronous) * 101);
      for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(InsertRandom(shim, rng, 5), SQLITE_OK);
        committed.fetch_add(5);
      }
      done = true;
    });
    Db reader(path_, nullptr, "FULL", SQLITE_OPEN_READONLY);
    int checks = 0;
    while (!done.load() || checks < 3) {
      const int at_least = committed.load();
      // Every row's payload is read (so every frame holding one), and the count is what was
      // committed before the read began or more.
      const int64_t n = reader.Int("SELECT count(*) FROM t WHERE length(v) = 300");
      ASSERT_GE(n, base + at_least);
      ASSERT_EQ(reader.Text("PRAGMA quick_check"), "ok");
      ++checks;
    }
    writer.join();
    EXPECT_EQ(reader.Int("SELECT count(*) FROM t"), base + 1000);
  }
}

TEST_F(WalCoalescingVfs, ATransactionLargerThanTheGatherBoundIsWrittenWhole) {
  Db shim(path_, "coalescing-test");
  std::mt19937_64 rng(14);
  const int64_t before = shim.Int("SELECT count(*) FROM t");
  // ~12 MiB of pages in one commit: many runs of kMaxGatheredBytes, some pages spilled from
  // the page cache before the commit.
  ASSERT_EQ(shim.Exec("PRAGMA cache_size=200"), SQLITE_OK);
  ASSERT_EQ(InsertRandom(shim, rng, 3000, 4000), SQLITE_OK);
  Db other(path_, nullptr, "FULL", SQLITE_OPEN_READONLY);
  EXPECT_EQ(other.Int("SELECT count(*) FROM t"), before + 3000);
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalCoalescingVfs, AWriteThatFailsFailsItsCommitAndNothingElse) {
  Db shim(path_, "coalescing-test");
  std::mt19937_64 rng(15);
  const int64_t before = shim.Int("SELECT count(*) FROM t");
  Counting::fail_wal_writes = true;
  EXPECT_NE(InsertRandom(shim, rng, 20), SQLITE_OK);
  Counting::fail_wal_writes = false;
  EXPECT_EQ(shim.Int("SELECT count(*) FROM t"), before);
  ASSERT_EQ(InsertRandom(shim, rng, 20), SQLITE_OK);
  Db other(path_, nullptr, "FULL", SQLITE_OPEN_READONLY);
  EXPECT_EQ(other.Int("SELECT count(*) FROM t"), before + 20);
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalCoalescingVfs, CheckpointsAndWalRestartsKeepEveryRow) {
  Db shim(path_, "coalescing-test");
  ASSERT_EQ(shim.Exec("PRAGMA wal_autocheckpoint=50"), SQLITE_OK);
  std::mt19937_64 rng(16);
  const int64_t before = shim.Int("SELECT count(*) FROM t");
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(InsertRandom(shim, rng, 1 + static_cast<int>(rng() % 9)), SQLITE_OK);
    if (i % 100 == 99) {
      ASSERT_EQ(shim.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    }
  }
  const int64_t after = shim.Int("SELECT count(*) FROM t");
  EXPECT_GT(after, before + 300);
  Db other(path_, nullptr, "FULL", SQLITE_OPEN_READONLY);
  EXPECT_EQ(other.Int("SELECT count(*) FROM t"), after);
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

// SQLite's unix VFS writes at most 128 KiB - 1 bytes per call and reports the rest of a longer
// write as a full disk. A statement journal that outgrows SQLITE_CONFIG_STMTJRNL_SPILL (16 MiB in
// the daemon) writes its whole buffer to a temp file in one call: migration 0016 failed on a
// million-event database with "database or disk is full". Through the shim a long write of any
// file lands whole.
TEST(WalCoalescingVfsOverUnix, AWriteLongerThan128KiBToAnyFileLandsWhole) {
  ASSERT_TRUE(RegisterWalCoalescingVfs("coalescing-over-unix", "unix").ok());
  sqlite3_vfs* vfs = sqlite3_vfs_find("coalescing-over-unix");
  ASSERT_NE(vfs, nullptr);
  std::vector<char> storage(static_cast<size_t>(vfs->szOsFile));
  auto* file = reinterpret_cast<sqlite3_file*>(storage.data());
  int out_flags = 0;
  ASSERT_EQ(vfs->xOpen(vfs, nullptr, file,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_DELETEONCLOSE |
                           SQLITE_OPEN_SUBJOURNAL,
                       &out_flags),
            SQLITE_OK);
  std::string data(16 * 1024 * 1024 - 12, '\0');  // what a 16-MiB statement journal spills
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  EXPECT_EQ(file->pMethods->xWrite(file, data.data(), static_cast<int>(data.size()), 4096),
            SQLITE_OK);
  sqlite3_int64 size = 0;
  EXPECT_EQ(file->pMethods->xFileSize(file, &size), SQLITE_OK);
  EXPECT_EQ(size, static_cast<sqlite3_int64>(data.size()) + 4096);
  std::string back(data.size(), '\0');
  EXPECT_EQ(file->pMethods->xRead(file, back.data(), static_cast<int>(back.size()), 4096),
            SQLITE_OK);
  EXPECT_TRUE(back == data);
  EXPECT_EQ(file->pMethods->xClose(file), SQLITE_OK);
}

TEST(WalCoalescingVfsRegistration, ANameTakenByAnotherVfsOrAMissingBaseIsRefused) {
  EXPECT_EQ(RegisterWalCoalescingVfs("unix").kind(), StatusKind::kInvalid);
  EXPECT_EQ(RegisterWalCoalescingVfs("coalescing-none", "no-such-vfs").kind(),
            StatusKind::kInvalid);
  EXPECT_TRUE(RegisterWalCoalescingVfs("coalescing-twice").ok());
  EXPECT_TRUE(RegisterWalCoalescingVfs("coalescing-twice").ok());
  EXPECT_NE(sqlite3_vfs_find(WalCoalescingVfsName()), nullptr);
}

}  // namespace
}  // namespace tenantsync
