// Command mattn is firstopen.Run with the mattn driver alone.
package main

import (
	"github.com/tokend/tokend/bench/sqlitedrivers/driver/mattn"
	"github.com/tokend/tokend/bench/sqlitedrivers/firstopen"
)

func main() { firstopen.Run("mattn", mattn.Open) }
