// Package store keeps room configuration in a SQL database: SQLite
// (modernc.org/sqlite) by default, PostgreSQL (pgx) when configured, with
// one schema and one set of migrations for both.
package store

import _ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver
