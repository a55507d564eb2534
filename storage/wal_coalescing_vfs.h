// A SQLite VFS shim that writes a transaction's WAL frames with one system call.
//
// SQLite appends each WAL frame with two writes (its 24-byte header, then the page), so a commit
// of 15 pages costs 30 pwrite calls before its one fsync; on the virtual machines tenantsync
// runs on a system call costs 1-3 us, which made those writes the largest single cost of storing
// an event (docs/BENCHMARKS.md, session 27). This VFS passes every call to the VFS beneath it,
// except that writes to a WAL file that extend the run of bytes gathered so far are kept in
// memory and written with one call when anything could need them in the file:
//   - before the WAL is synced (a commit under synchronous=FULL), read, sized, truncated or
//     closed, and before any file control on it;
//   - before a wal-index barrier or lock on the database beside it, which is how SQLite
//     publishes a commit to other connections (so under synchronous=NORMAL, which does not sync
//     at commit, no connection can see a frame that is not yet in the file);
//   - when a write does not extend the run, or the run reaches kMaxGatheredBytes.
// Nothing is acknowledged earlier than before: SQLite reports a commit only after its sync,
// which writes first, so a failed write fails that commit as it would have without the shim.
// Files other than WAL files are passed through, except that a write longer than
// kMaxGatheredBytes (a statement journal spilling to a temp file writes its whole buffer at once)
// goes to the VFS beneath in pieces, which that VFS's 128 KiB limit would otherwise fail as a
// full disk.
//
// Thread safety: registration is once per name and safe from any thread. A file object is used
// by one connection at a time (SQLite's contract); the gathered bytes of a WAL file also have
// their own mutex, because another connection's barrier on the same database may write them.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace tenantsync {

// The most a WAL file gathers before writing (a longer run is written as it grows): 124 KiB,
// because SQLite's unix VFS writes at most 128 KiB - 1 per call (os_unix.c, seekAndWriteFd
// masks the length with 0x1ffff) and reports a longer write as a full disk.
inline constexpr size_t kMaxGatheredBytes = 124u << 10;

// Registers (once per name) a VFS called `name` over the VFS called `base` and returns Ok; the
// new VFS is not made the default. With base "" it is over whatever VFS is the default when a
// file is opened (so a VFS a test makes default stays beneath). Invalid if `base` does not
// exist or `name` is already taken by another VFS.
Status RegisterWalCoalescingVfs(const std::string& name, const std::string& base = "");

// The name tenantsync's store opens its connections with ("tenantsync-wal"), registered over
// the default VFS on first call.
const char* WalCoalescingVfsName();

}  // namespace tenantsync
