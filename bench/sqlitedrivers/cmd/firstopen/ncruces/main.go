// Command ncruces is firstopen.Run with the ncruces driver alone.
package main

import (
	"github.com/tokend/tokend/bench/sqlitedrivers/driver/ncruces"
	"github.com/tokend/tokend/bench/sqlitedrivers/firstopen"
)

func main() { firstopen.Run("ncruces", ncruces.Open) }
