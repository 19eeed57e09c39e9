// Package logbuf batches log output: under load a server logs a line per
// request, and a write system call per line is a large part of a cheap
// request's CPU. Lines are written together, at least every
// FlushEvery, and at once when the buffer fills or the writer closes.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Defaults of New.
const (
	FlushEvery = 100 * time.Millisecond
	size       = 64 << 10
)

// Writer buffers what it is given and writes it to the underlying writer
// in large writes. It is safe for concurrent use; each Write is kept whole.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	err  error // the first write error, returned by later calls
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Writer to w that flushes every every (FlushEvery if 0).
// Close it to flush the rest and stop its goroutine.
func New(w io.Writer, every time.Duration) *Writer {
	if every <= 0 {
		every = FlushEvery
	}
	b := &Writer{w: w, buf: make([]byte, 0, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(every)
	return b
}

func (b *Writer) run(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Flush() //nolint:errcheck // kept in b.err for the next Write
		}
	}
}

// Write appends p to the buffer, writing the buffer out first when p
// would not fit. A line larger than the buffer is written at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 || b.err != nil {
		return b.err
	}
	_, err := b.write(b.buf)
	b.buf = b.buf[:0]
	return err
}

func (b *Writer) write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close flushes the buffer and stops the periodic flush. It does not close
// the underlying writer. Writes after Close are written at once.
func (b *Writer) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.buf = b.buf[:0:0] // from now on every Write goes straight through
	return err
}
