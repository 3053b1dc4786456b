// Package store keeps room configuration in a SQL database: SQLite
// (modernc.org/sqlite, no cgo) by default, PostgreSQL (pgx's database/sql
// driver) when configured, with one schema and one set of migrations for
// both.
//
// The migrations are the numbered files of migrations/, embedded in the
// binary and written in the SQL that both engines accept. Open applies the
// missing ones in one transaction and records each in schema_migrations;
// on PostgreSQL it first takes a transaction-scoped advisory lock, so that
// several processes starting at once migrate one after the other. Queries
// are written with ? placeholders and rewritten to $1, $2, … for
// PostgreSQL.
//
// PINs are stored only as hashes (ivr.HashPIN); the store refuses anything
// that does not look like one.
package store

import (
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)
