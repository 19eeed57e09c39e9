package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/logbuf"
)

// sink records each write it gets.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) all() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil)), len(s.writes)
}

func TestLinesArriveWholeInFewWrites(t *testing.T) {
	var out sink
	w := logbuf.New(&out, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				fmt.Fprintf(w, "g=%d i=%04d %s\n", g, i, strings.Repeat("x", 40))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	text, writes := out.all()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 8000 {
		t.Fatalf("%d lines; want 8000", len(lines))
	}
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g=%d i=%d", &g, &i); err != nil || len(l) != len("g=0 i=0000 ")+40 {
			t.Fatalf("torn line %q", l)
		}
		if key := fmt.Sprint(g); i != next[key] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[key]-1)
		}
		next[fmt.Sprint(g)]++
	}
	// 8000 lines of 56 bytes in a 64 KiB buffer: a handful of writes.
	if writes > 10 {
		t.Errorf("%d writes for 8000 lines; want them batched", writes)
	}
}

func TestFlushedWithinTheInterval(t *testing.T) {
	var out sink
	w := logbuf.New(&out, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "hello")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if text, _ := out.all(); text == "hello\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWritesAfterCloseGoStraightThrough(t *testing.T) {
	var out sink
	w := logbuf.New(&out, time.Hour)
	fmt.Fprintln(w, "before")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "after")
	if text, _ := out.all(); text != "before\nafter\n" {
		t.Errorf("got %q", text)
	}
}

func TestAWriteErrorIsKept(t *testing.T) {
	boom := errors.New("disk full")
	out := sink{err: boom}
	w := logbuf.New(&out, time.Hour)
	fmt.Fprintln(w, "lost")
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush: %v; want %v", err, boom)
	}
	if _, err := fmt.Fprintln(w, "more"); !errors.Is(err, boom) {
		t.Errorf("Write after a failed flush: %v; want %v", err, boom)
	}
	w.Close()
}
