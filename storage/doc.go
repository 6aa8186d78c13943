// Package storage owns the SQLite file: schema and migrations, the table
// registry, the single batching writer, the read queries behind `stats`
// and package export, and Reparse, which re-derives the event tables from
// the raw archive.
package storage
