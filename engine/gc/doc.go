// Package gc is mcr's online garbage collector (docs/design.md §5, docs/gc.md): a
// mark-and-sweep over the metadata store and the blob store that runs while
// pushes and pulls continue, with no global lock.
//
// A run, in order:
//
//  1. recover: finish the file deletions of a run that was interrupted
//     (sweep tombstones, g/s/<digest>).
//  2. untagged (gc.delete_untagged only): on each repository's actor,
//     delete the untagged manifests older than the grace period that no
//     live index or live subject keeps.
//  3. mark: from one snapshot taken at T0, stream every manifest of every
//     repository and collect the blobs they reference (the mark set, the
//     only structure that grows with the registry); per repository, drop
//     the links no manifest of the repository uses once they are older
//     than the grace period, and links to blobs that have no record.
//  4. sweep: every blob record of the snapshot that is not marked, and
//     whose creation and last link are older than T0 - grace, is deleted in
//     its own transaction that first re-reads the record and requires its
//     LastLinked to be the value the snapshot saw. Every manifest commit
//     and every link rewrites LastLinked of the blobs it uses in its own
//     transaction, so a push racing the sweep conflicts with it: one of
//     them retries and sees the other's result. The record, its links and
//     a tombstone go in one transaction; then the file; then the tombstone.
//  5. orphans: files in the blob store without a record (a crash between
//     the rename and the commit of an upload), older than the grace period
//     and than placedMinAge: an upload links the file it placed without
//     looking again (docs/gc.md, "One more race").
//  6. repositories: empty repositories older than the grace period are
//     removed; repositories with content but no record get one back.
//  7. uploads: sessions older than the upload expiry lose their record and
//     staging file, and staging files without a session are removed.
//
// Invariants:
//   - A blob's file is deleted only after its record: a record never points
//     at a missing file, except while the sweep tombstone stands, during
//     which the engine refuses to link the digest.
//   - Every manifest that exists in the mark snapshot marks its blobs, and
//     every manifest committed after it changed LastLinked of its blobs: so
//     no committed manifest loses a blob.
//   - Repository metadata (manifests, links, repository records) is changed
//     on the repository's actor (Repos.Exclusive); only the sweep itself,
//     which spans repositories, writes directly, guarded by the conflict
//     described above.
//   - Dry runs write nothing and report what a run would remove.
package gc
