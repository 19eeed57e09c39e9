package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
)

// versionCommand is `tokend version` and `tokend --version`: the version
// set at build time, then what the Go toolchain recorded in the binary.
func versionCommand(args []string, stdout, stderr io.Writer) error {
	// It takes no flags: -h says what it prints, anything else is refused.
	if slices.ContainsFunc(args, isHelp) {
		_, err := parseArgs(newFlagSet("version", stderr), []string{"-h"})
		return err
	}
	if err := noArgs("version", args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	printVersion(stdout, bi)
	return nil
}

// printVersion prints "tokend VERSION", then, from bi when there is one,
// the module's path and version, the VCS revision and its time (a go build
// in a git checkout records them; go run and tests may not), and the Go
// version. It prints what is there and skips what is not.
func printVersion(w io.Writer, bi *debug.BuildInfo) {
	fmt.Fprintln(w, "tokend", version)
	if bi == nil {
		return
	}
	if bi.Main.Path != "" {
		fmt.Fprintln(w, "module:", bi.Main.Path, bi.Main.Version)
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		if vcs["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		fmt.Fprintln(w, "revision:", rev)
	}
	if t := vcs["vcs.time"]; t != "" {
		fmt.Fprintln(w, "time:", t)
	}
	if bi.GoVersion != "" {
		fmt.Fprintln(w, "go:", bi.GoVersion)
	}
}
