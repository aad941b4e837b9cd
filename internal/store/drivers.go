package store

import (
	// database/sql drivers: pure-Go SQLite (the zero-configuration default)
	// and pgx for PostgreSQL.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)
