package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// targets are the throughput goals of the operations that have one, as
// fractions of the ceiling's req/s: those the writes issue set, at 16 and
// at 64 connections alike.
var targets = map[string]float64{
	opRevoke:            0.50,
	opIntrospectActive:  0.80,
	opIntrospectRevoked: 0.80,
	opIssueOpaque:       0.40,
	opIssueJWTES256:     0.25,
	opRefresh:           0.25,
}

// machine describes where a run took place.
type machine struct {
	date    time.Time
	nproc   int
	cpu     string
	goVer   string
	backend string
	workers int
	dur     time.Duration
	pinning string
	loadavg string
	client  string
	fill    int // live tokens put into the store before the run
}

func thisMachine() machine {
	return machine{
		date:  time.Now(),
		nproc: nproc(),
		cpu:   cpuModel(),
		goVer: runtime.Version(),
	}
}

// loadAvg returns the first three fields of /proc/loadavg: other work on
// the machine skews every figure, the ceiling's included.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// nproc returns the machine's processors as /proc/cpuinfo counts them.
// The nproc command counts those this process may run on, which is 1 once
// the load generator has pinned itself.
func nproc() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// goVersionOf returns the Go version a binary was built with, or "" when
// it cannot tell.
func goVersionOf(bin string) string {
	out, err := exec.Command("go", "version", bin).Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return ""
	}
	return f[len(f)-1]
}

// writeReport prints the Markdown report: the run's circumstances, the
// table, and notes on whatever went wrong.
func writeReport(w io.Writer, m machine, ceil *result, rows []*result) {
	fmt.Fprintf(w, "tokend-bench, %s\n\n", m.date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %d CPUs (nproc), %s\n", m.nproc, m.cpu)
	fmt.Fprintf(w, "- Go: %s\n", m.goVer)
	fmt.Fprintf(w, "- backend: %s\n", m.backend)
	if m.fill > 0 {
		fmt.Fprintf(w, "- store: %d live tokens written in before the server started (--fill), besides the run's own\n", m.fill)
	}
	fmt.Fprintf(w, "- load: %d keep-alive connections (%s), %s per operation; %s\n", m.workers, m.client, m.dur, m.pinning)
	fmt.Fprintf(w, "- load average before the run: %s\n\n", m.loadavg)
	writeTable(w, ceil, rows)
	var notes []string
	for _, r := range append([]*result{ceil}, rows...) {
		if r == nil {
			continue
		}
		if r.note != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", r.name, r.note))
		}
		if r.errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d errors (%s)", r.name, r.errors, errorBreakdown(r)))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// writeTable prints one Markdown table row per result, the ceiling first.
// The CPU columns say how busy the server's core and the generator's were
// (a ratio means little unless the server's core was the one saturated)
// and what one request cost the server in CPU time, a figure that other
// work on the machine skews less than req/s.
func writeTable(w io.Writer, ceil *result, rows []*result) {
	fmt.Fprintln(w, "| operation | req/s | p50 | p99 | errors | × ceiling | target | server CPU | server CPU/req | load CPU | server RSS |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|")
	all := rows
	if ceil != nil {
		all = append([]*result{ceil}, rows...)
	}
	for _, r := range all {
		ratio, target := "", ""
		if ceil != nil && ceil.rate() > 0 {
			x := r.rate() / ceil.rate()
			ratio = strconv.FormatFloat(x, 'f', 2, 64)
			if t, ok := targets[r.name]; ok {
				verdict := "met"
				if x < t {
					verdict = "missed"
				}
				target = fmt.Sprintf("≥ %.2f %s", t, verdict)
			}
		}
		name := r.name
		if r.exhausted {
			name += " (pool ran out)"
		}
		perReq := "–"
		if r.perReq > 0 {
			perReq = fmt.Sprintf("%.0f µs", float64(r.perReq)/float64(time.Microsecond))
		}
		rss := "–"
		if r.rssKiB > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.rssKiB)/1024)
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n",
			name, r.rate(), ms(r.hist.quantile(0.50)), ms(r.hist.quantile(0.99)), r.errors,
			ratio, target, percent(r.serverCPU), perReq, percent(r.genCPU), rss)
	}
}

// ms formats a latency in milliseconds with three significant decimals
// below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64) + " ms"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
}

func percent(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

// errorBreakdown lists a result's errors by status, e.g. "429: 3, 500: 1,
// transport: 2".
func errorBreakdown(r *result) string {
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		label := strconv.Itoa(c)
		if c >= 200 && c <= 299 {
			label += " with a wrong body"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, r.statuses[c]))
	}
	if r.transport > 0 {
		parts = append(parts, fmt.Sprintf("transport: %d", r.transport))
	}
	return strings.Join(parts, ", ")
}
