// Package firstopen is the body of the cmd/firstopen programs, one per
// driver, each linking that driver alone: how long a fresh process takes
// to open a new store file with it (the store's pragmas, the schema) and
// run its first query, and, from the programs' sizes, what the driver
// adds to a binary.
package firstopen

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tokend/tokend/bench/sqlitedrivers/tokendsql"
)

// Run opens a new store file in a temporary folder with open, the
// writer's way, creates the schema, reads the SQLite version and prints
// the time that took; with a nil open (the baseline program), nothing.
func Run(name string, open func(path string, writer bool) (*sql.DB, error)) {
	if open == nil {
		fmt.Println(name)
		return
	}
	dir, err := os.MkdirTemp("", "firstopen-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	db, err := open(filepath.Join(dir, "tokend.db"), true)
	if err != nil {
		fail(err)
	}
	defer db.Close()
	if _, err := db.Exec(tokendsql.Schema); err != nil {
		fail(err)
	}
	var v string
	if err := db.QueryRow(`SELECT sqlite_version()`).Scan(&v); err != nil {
		fail(err)
	}
	fmt.Printf("%s: SQLite %s, first open, schema and query in %v\n", name, v, time.Since(start))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
