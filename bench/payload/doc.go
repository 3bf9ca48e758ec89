// Package payload makes the bytes the benchmark pushes: deterministic
// pseudo-random streams that are generated as they are read, so a 256 MiB
// blob never sits whole in memory, and the same (seed, size) always yields
// the same bytes and therefore the same digest.
//
// The generator is counter-based (wyrand's mixing step applied to
// seed + i·γ): 8-byte word i depends only on the seed and i, so a stream can
// be read in any chunk sizes and still produce identical bytes. It makes
// several GB/s on one core, far above what any registry under test can
// absorb, so it does not shape the measurement.
package payload
