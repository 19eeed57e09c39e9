// Package modernc opens a database with modernc.org/sqlite, tokend's
// driver: SQLite translated to Go from C, no cgo.
package modernc

import (
	"database/sql"
	"net/url"

	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/tokend/tokend/bench/sqlitedrivers/tokendsql"
)

// Open opens the file at path as the store's writer or as its read pool,
// with the DSN the store builds (sqlite.go's dsn).
func Open(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range tokendsql.Pragmas(writer) {
		q.Add("_pragma", p.Name+"("+p.Value+")")
	}
	if writer {
		q.Set("_txlock", "immediate")
	}
	return sql.Open("sqlite", path+"?"+q.Encode())
}
