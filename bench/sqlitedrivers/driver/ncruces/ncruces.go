// Package ncruces opens a database with github.com/ncruces/go-sqlite3:
// SQLite compiled to WebAssembly and translated to Go (wasm2go), no cgo.
//
// Its package driver registers the name "sqlite3" when it starts, as
// github.com/mattn/go-sqlite3 does, and database/sql panics at a second
// registration of a name: a program that links both must build with
//
//	-ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName=
//
// which leaves ncruces unregistered; Open needs no name.
package ncruces

import (
	"database/sql"
	"net/url"

	"github.com/ncruces/go-sqlite3/driver"

	"github.com/tokend/tokend/bench/sqlitedrivers/tokendsql"
)

// Open opens the file at path as the store's writer or as its read pool,
// with the pragmas of the store's DSN in the driver's own syntax, which is
// modernc's: _pragma=name(value), _txlock. ncruces wants a file: URI for
// them.
func Open(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range tokendsql.Pragmas(writer) {
		q.Add("_pragma", p.Name+"("+p.Value+")")
	}
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_txlock", "deferred") // modernc's and mattn's default; ncruces' is immediate
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	c, err := (&driver.SQLite{}).OpenConnector(u.String())
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
