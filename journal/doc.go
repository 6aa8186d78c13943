// Package journal is the append-only log of frames between danmakud's
// readers and its decoder: segment files beside the database, so that a
// reader never waits on decoding or on the database, a backlog waits on
// disk instead of in memory, and a frame the process has read survives a
// kill -9.
//
// # Writing
//
// Readers (one goroutine per connection) call Append with a frame exactly
// as received. Append copies it into a pending buffer and hands it to the
// journal's one writer goroutine, which writes pending records to the
// current segment file with one write(2) per batch (group commit). Append
// returns once its record is in the kernel (the page cache: it survives
// the process being killed, not a power loss; there is no fsync) — a
// matter of microseconds — unless the writer is stalled (a write has taken
// longer than StallAfter: a slow or full disk), in which case Append
// returns at once and the record waits in memory. The pending buffer is
// bounded in bytes (PendingMax); so is the journal on disk (MaxBytes).
// Past either bound a record is dropped and counted, and the journal says
// so in the log: Append never blocks a reader on the disk.
//
// # Reading
//
// One consumer (the decoder) reads records in order with a Reader, up to
// what has been written, and tells the journal with Release how far it
// has durably consumed (the position it committed in the same database
// transaction as the rows it derived). Segments wholly before that
// position are deleted; most are deleted before the kernel ever writes
// them back to disk. After a crash the next run opens the same directory,
// repairs a torn tail (records are CRC-checked), and replays from the
// position the database last committed.
//
// # Format
//
// A segment file is NNNNNNNNNNNNNNNN.seg (its number, 16 hex digits) and
// holds a 32-byte header (magic "DMKJRNL1", journal id, segment number,
// run id, little-endian) followed by records: a 32-byte record header
// (data length u32, CRC-32C u32 of the rest of the header and the data,
// kind u8, 3 reserved bytes, connection u32, room i64, receive time unix
// ms i64) and the data. A new segment starts when the current one would
// pass SegmentSize, and at every Open: one segment never holds two runs.
package journal
