// Package mattn opens a database with github.com/mattn/go-sqlite3: SQLite's
// C source compiled with cgo, which needs a C compiler where it is built.
package mattn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/url"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/tokend/tokend/bench/sqlitedrivers/tokendsql"
)

// Open opens the file at path as the store's writer or as its read pool.
// mattn's DSN names some pragmas only (no temp_store), so every
// connection runs the store's pragmas, in order, in a ConnectHook instead.
func Open(path string, writer bool) (*sql.DB, error) {
	pragmas := tokendsql.Pragmas(writer)
	d := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec("PRAGMA "+p.Name+" = "+p.Value, nil); err != nil {
				return err
			}
		}
		return nil
	}}
	q := url.Values{}
	if writer {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return sql.OpenDB(connector{d, u.String()}), nil
}

// connector opens connections of d to dsn, without registering d under a
// name (ncruces would take "sqlite3" too).
type connector struct {
	d   *sqlite3.SQLiteDriver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.d }
