#include "storage/wal_coalescing_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace tenantsync {
namespace {

struct ShimFile;

// The open WAL files of one database (by its path), so a barrier on the database can write
// what any of them gathered. Only the connection holding the WAL write lock gathers, so at most
// one of them has bytes at a time; the count lets every other barrier return at once.
struct WalGroup {
  std::mutex mu;  // guards files; taken before a file's own mutex, never after
  std::vector<ShimFile*> files;
  std::atomic<int> pending{0};
};

std::mutex groups_mu;
std::unordered_map<std::string, std::weak_ptr<WalGroup>> groups;

std::shared_ptr<WalGroup> GroupFor(const std::string& db_path) {
  std::lock_guard<std::mutex> lock(groups_mu);
  auto& weak = groups[db_path];
  auto group = weak.lock();
  if (!group) {
    group = std::make_shared<WalGroup>();
    weak = group;
  }
  return group;
}

struct ShimFile {
  sqlite3_file base;   // first: SQLite sees this struct as its sqlite3_file
  sqlite3_file* real;  // the beneath VFS's file, in the same allocation after this struct
  bool wal = false;    // gathers writes
  std::shared_ptr<WalGroup> group;  // WAL files and main databases; null otherwise
  std::mutex mu;                    // guards the fields below (WAL files)
  std::string gathered;             // bytes not yet written, starting at `start`
  sqlite3_int64 start = 0;
  // A write that failed where no error could be returned (a barrier): every later call on the
  // file returns it, so the connection stops instead of going on over a hole in its WAL.
  int deferred_error = SQLITE_OK;
};

constexpr size_t kRealOffset = (sizeof(ShimFile) + 15) & ~size_t{15};

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
const sqlite3_io_methods* Real(ShimFile* f) { return f->real->pMethods; }

// Writes what `f` gathered. Caller holds f->mu.
int WriteGathered(ShimFile* f) {
  if (f->gathered.empty()) return SQLITE_OK;
  int rc =
      Real(f)->xWrite(f->real, f->gathered.data(), static_cast<int>(f->gathered.size()), f->start);
  f->gathered.clear();
  f->group->pending.fetch_sub(1, std::memory_order_acq_rel);
  return rc;
}

// Runs `op` (a call on the real file) after writing what `f` gathered, under f's mutex, so a
// barrier of another connection never writes through the real file while this one uses it.
template <typename Op>
int Settled(ShimFile* f, Op op) {
  if (!f->wal) return op();
  std::lock_guard<std::mutex> lock(f->mu);
  if (f->deferred_error != SQLITE_OK) return f->deferred_error;
  if (int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return op();
}

void SettleGroup(WalGroup* group) {
  if (group == nullptr || group->pending.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> group_lock(group->mu);
  for (ShimFile* f : group->files) {
    std::lock_guard<std::mutex> lock(f->mu);
    if (int rc = WriteGathered(f); rc != SQLITE_OK && f->deferred_error == SQLITE_OK)
      f->deferred_error = rc;
  }
}

int Close(sqlite3_file* file) {
  ShimFile* f = Shim(file);
  int rc = SQLITE_OK;
  if (f->wal) {
    rc = Settled(f, [] { return SQLITE_OK; });
    std::lock_guard<std::mutex> group_lock(f->group->mu);
    std::erase(f->group->files, f);
  }
  int close_rc = Real(f)->xClose(f->real);
  f->~ShimFile();
  return rc != SQLITE_OK ? rc : close_rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  ShimFile* f = Shim(file);
  return Settled(f, [&] { return Real(f)->xRead(f->real, out, amount, offset); });
}

// The unix VFS beneath writes at most 128 KiB - 1 bytes per call and reports the rest of a longer
// write as a full disk; a statement journal that spills writes its whole buffer (up to
// SQLITE_CONFIG_STMTJRNL_SPILL) in one call. Longer writes go down in pieces.
int WriteInPieces(ShimFile* f, const void* data, int amount, sqlite3_int64 offset) {
  const char* p = static_cast<const char*>(data);
  while (amount > 0) {
    const int n = std::min(amount, static_cast<int>(kMaxGatheredBytes));
    if (int rc = Real(f)->xWrite(f->real, p, n, offset); rc != SQLITE_OK) return rc;
    p += n;
    offset += n;
    amount -= n;
  }
  return SQLITE_OK;
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  ShimFile* f = Shim(file);
  if (!f->wal) return WriteInPieces(f, data, amount, offset);
  std::lock_guard<std::mutex> lock(f->mu);
  if (f->deferred_error != SQLITE_OK) return f->deferred_error;
  const auto n = static_cast<size_t>(amount);
  if (!f->gathered.empty() && offset == f->start + static_cast<sqlite3_int64>(f->gathered.size()) &&
      f->gathered.size() + n <= kMaxGatheredBytes) {
    f->gathered.append(static_cast<const char*>(data), n);
    return SQLITE_OK;
  }
  // Not the next bytes of the run (a frame rewritten in place, a new WAL's header) or too many:
  // the run goes to the file first, so the file sees the writes in SQLite's order.
  if (int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  if (n >= kMaxGatheredBytes) return WriteInPieces(f, data, amount, offset);
  f->start = offset;
  f->gathered.assign(static_cast<const char*>(data), n);
  f->group->pending.fetch_add(1, std::memory_order_acq_rel);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  ShimFile* f = Shim(file);
  return Settled(f, [&] { return Real(f)->xTruncate(f->real, size); });
}

int Sync(sqlite3_file* file, int flags) {
  ShimFile* f = Shim(file);
  return Settled(f, [&] { return Real(f)->xSync(f->real, flags); });
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  ShimFile* f = Shim(file);
  return Settled(f, [&] { return Real(f)->xFileSize(f->real, size); });
}

int Lock(sqlite3_file* file, int level) { return Real(Shim(file))->xLock(Shim(file)->real, level); }

int Unlock(sqlite3_file* file, int level) {
  return Real(Shim(file))->xUnlock(Shim(file)->real, level);
}

int CheckReservedLock(sqlite3_file* file, int* out) {
  return Real(Shim(file))->xCheckReservedLock(Shim(file)->real, out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  ShimFile* f = Shim(file);
  return Settled(f, [&] { return Real(f)->xFileControl(f->real, op, arg); });
}

int SectorSize(sqlite3_file* file) { return Real(Shim(file))->xSectorSize(Shim(file)->real); }

int DeviceCharacteristics(sqlite3_file* file) {
  return Real(Shim(file))->xDeviceCharacteristics(Shim(file)->real);
}

int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return Real(Shim(file))->xShmMap(Shim(file)->real, region, size, extend, out);
}

// SQLite publishes a commit by writing the wal-index header around a barrier; frames that
// header counts must be in the WAL file by then.
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  ShimFile* f = Shim(file);
  SettleGroup(f->group.get());
  return Real(f)->xShmLock(f->real, offset, n, flags);
}

void ShmBarrier(sqlite3_file* file) {
  ShimFile* f = Shim(file);
  SettleGroup(f->group.get());
  Real(f)->xShmBarrier(f->real);
}

int ShmUnmap(sqlite3_file* file, int delete_flag) {
  ShimFile* f = Shim(file);
  SettleGroup(f->group.get());
  return Real(f)->xShmUnmap(f->real, delete_flag);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return Real(Shim(file))->xFetch(Shim(file)->real, offset, amount, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return Real(Shim(file))->xUnfetch(Shim(file)->real, offset, page);
}

constexpr sqlite3_io_methods MethodsOfVersion(int version) {
  return {version,
          Close,
          Read,
          Write,
          Truncate,
          Sync,
          FileSize,
          Lock,
          Unlock,
          CheckReservedLock,
          FileControl,
          SectorSize,
          DeviceCharacteristics,
          ShmMap,
          ShmLock,
          ShmBarrier,
          ShmUnmap,
          Fetch,
          Unfetch};
}

// One table per io-methods version, so a file never claims methods its real file lacks.
const sqlite3_io_methods kMethods[3] = {MethodsOfVersion(1), MethodsOfVersion(2),
                                        MethodsOfVersion(3)};

struct Registered {
  std::string name;
  sqlite3_vfs vfs;
  sqlite3_vfs* fixed = nullptr;     // the VFS beneath, or null: the default at each call
  sqlite3_vfs* fallback = nullptr;  // beneath when the default is a shim of this kind itself
  int room = 0;                     // bytes for the beneath VFS's file
};

// Following the default at each call (not the one at registration) keeps a VFS a test makes
// default (tests/support/counting_vfs.h) beneath the store's connections.
sqlite3_vfs* Base(sqlite3_vfs* vfs) {
  const auto* r = static_cast<const Registered*>(vfs->pAppData);
  if (r->fixed != nullptr) return r->fixed;
  sqlite3_vfs* d = sqlite3_vfs_find(nullptr);
  return d == nullptr || d->xOpen == vfs->xOpen ? r->fallback : d;
}

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  file->pMethods = nullptr;
  sqlite3_vfs* beneath = Base(vfs);
  if (beneath->szOsFile > static_cast<const Registered*>(vfs->pAppData)->room)
    return SQLITE_CANTOPEN;
  auto* f = new (file) ShimFile();
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  int rc = beneath->xOpen(beneath, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == nullptr) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    f->~ShimFile();
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  if (name != nullptr && (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_DB)) != 0) {
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    // A WAL's name knows its database's (SQLite passes both as sqlite3_filename).
    f->group = GroupFor(f->wal ? sqlite3_filename_database(name) : name);
    if (f->wal) {
      std::lock_guard<std::mutex> lock(f->group->mu);
      f->group->files.push_back(f);
    }
  }
  const int version = f->real->pMethods->iVersion;
  f->base.pMethods = &kMethods[(version < 1 ? 1 : version > 3 ? 3 : version) - 1];
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Base(vfs)->xDelete(Base(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Base(vfs)->xAccess(Base(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Base(vfs)->xFullPathname(Base(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Base(vfs)->xDlOpen(Base(vfs), name); }
void DlError(sqlite3_vfs* vfs, int n, char* out) { Base(vfs)->xDlError(Base(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Base(vfs)->xDlSym(Base(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) { Base(vfs)->xDlClose(Base(vfs), handle); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xRandomness(Base(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int micros) { return Base(vfs)->xSleep(Base(vfs), micros); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Base(vfs)->xCurrentTime(Base(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xGetLastError(Base(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Base(vfs)->xCurrentTimeInt64(Base(vfs), out);
}
int SetSystemCall(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
  return Base(vfs)->xSetSystemCall(Base(vfs), name, call);
}
sqlite3_syscall_ptr GetSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xGetSystemCall(Base(vfs), name);
}
const char* NextSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xNextSystemCall(Base(vfs), name);
}

std::mutex registry_mu;
std::map<std::string, std::unique_ptr<Registered>> registry;

}  // namespace

Status RegisterWalCoalescingVfs(const std::string& name, const std::string& base) {
  std::lock_guard<std::mutex> lock(registry_mu);
  if (registry.contains(name)) return Status::Ok();
  if (sqlite3_vfs_find(name.c_str()) != nullptr)
    return Status::Invalid("SQLite VFS name " + name + " is already taken");
  sqlite3_vfs* beneath = sqlite3_vfs_find(base.empty() ? nullptr : base.c_str());
  if (beneath == nullptr) return Status::Invalid("no SQLite VFS called " + base);
  if (beneath->xOpen == Open) return Status::Invalid("VFS " + base + " is already this shim");
  auto r = std::make_unique<Registered>();
  r->name = name;
  r->fixed = base.empty() ? nullptr : beneath;
  r->fallback = beneath;
  // A default VFS made later is usually a thin wrapper of this one (same file size); room to
  // spare for one that is not.
  r->room = beneath->szOsFile < 1024 ? 1024 : beneath->szOsFile;
  sqlite3_vfs& v = r->vfs;
  std::memset(&v, 0, sizeof v);
  v.iVersion = beneath->iVersion < 3 ? beneath->iVersion : 3;
  v.szOsFile = static_cast<int>(kRealOffset) + r->room;
  v.mxPathname = beneath->mxPathname;
  v.zName = r->name.c_str();
  v.pAppData = r.get();
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xDlOpen = beneath->xDlOpen != nullptr ? DlOpen : nullptr;
  v.xDlError = beneath->xDlError != nullptr ? DlError : nullptr;
  v.xDlSym = beneath->xDlSym != nullptr ? DlSym : nullptr;
  v.xDlClose = beneath->xDlClose != nullptr ? DlClose : nullptr;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  if (v.iVersion >= 2) v.xCurrentTimeInt64 = CurrentTimeInt64;
  if (v.iVersion >= 3) {
    v.xSetSystemCall = SetSystemCall;
    v.xGetSystemCall = GetSystemCall;
    v.xNextSystemCall = NextSystemCall;
  }
  if (int rc = sqlite3_vfs_register(&v, 0); rc != SQLITE_OK)
    return Status::Invalid("registering SQLite VFS " + name + ": " + sqlite3_errstr(rc));
  registry.emplace(name, std::move(r));
  return Status::Ok();
}

const char* WalCoalescingVfsName() {
  static const char* const kName = [] {
    // Over the default VFS, which always exists; a failure would leave the name unregistered
    // and every open through it failing with a clear "no such vfs" error.
    (void)RegisterWalCoalescingVfs("tenantsync-wal");
    return "tenantsync-wal";
  }();
  return kName;
}

}  // namespace tenantsync
