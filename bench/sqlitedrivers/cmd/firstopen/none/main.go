// Command none is the firstopen programs without a driver: the baseline
// of their sizes.
package main

import "github.com/tokend/tokend/bench/sqlitedrivers/firstopen"

func main() { firstopen.Run("none", nil) }
