#include "tests/support/counting_vfs.h"

#include <stdexcept>

namespace tenantsync::testing {

CountingVfs::CountingVfs() {
  base_ = sqlite3_vfs_find(nullptr);
  if (base_ == nullptr) throw std::runtime_error("no default SQLite VFS");
  vfs_ = *base_;
  vfs_.zName = "tenantsync-counting";
  vfs_.pAppData = this;
  vfs_.xOpen = &CountingVfs::Open;
  if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::runtime_error("vfs register");
}

CountingVfs::~CountingVfs() {
  sqlite3_vfs_unregister(&vfs_);
  sqlite3_vfs_register(base_, 1);
}

int CountingVfs::Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                      int* out_flags) {
  auto* self = static_cast<CountingVfs*>(vfs->pAppData);
  constexpr int kOwnFiles = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL;
  if ((flags & kOwnFiles) == 0) ++self->temp_files_;
  return self->base_->xOpen(self->base_, name, file, flags, out_flags);
}

}  // namespace tenantsync::testing
