// Command modernc is firstopen.Run with the modernc driver alone.
package main

import (
	"github.com/tokend/tokend/bench/sqlitedrivers/driver/modernc"
	"github.com/tokend/tokend/bench/sqlitedrivers/firstopen"
)

func main() { firstopen.Run("modernc", modernc.Open) }
