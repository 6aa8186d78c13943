// Package storage owns the SQLite file: schema and migrations, the single
// batching writer, and the read queries behind `stats` and `export`.
package storage
