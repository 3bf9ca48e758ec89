// Package diskspace treats free disk space as a managed resource
// (docs/operations.md, "Disk space"). A Monitor watches every filesystem
// mcr writes (the data directory's and the metadata directory's, which may
// be two) with statfs(2), against a floor of free bytes and one of free
// inodes. Below a floor, Admit refuses the writes that add data (uploads,
// manifest pushes, mounts) with errcode.InsufficientStorage (507) before
// they start, and a running upload is refused at its next buffer; reads,
// deletes, garbage collection and admin work go on.
//
// The metadata store (Badger) writes through memory-mapped files: on a
// full disk such a write is not an error but a SIGBUS that kills the
// process, and Badger's Open writes the same way. So the metadata
// directory's filesystem holds a reserve: a preallocated file (fallocate)
// that nothing but Badger may use. The reserve does not count as free
// space for the floor; it is released when the filesystem goes below its
// floor, so that the metadata writes that go on below it (deletes, GC,
// the memtable flush of a clean shutdown, the next Open) always have room,
// and re-created when space comes back.
//
// Invariants:
//   - Usable space (what the floor is checked against) is the same
//     whether the reserve is held or released: free - (reserve - held).
//     Releasing the reserve never lets data writes through.
//   - Admit never blocks on anything but statfs; the reserve is released
//     on the caller's goroutine the moment a floor is seen crossed, and
//     re-created only by Run.
package diskspace
