package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockData takes the data folder's serve lock, <data>/serve.lock, for the
// life of the process, or says which process holds it: two servers on one
// SQLite database would each trust a token cache the other's writes do
// not reach. It is a flock, which the kernel drops when the process ends,
// however it ends, so a crash leaves no stale lock; the pid in the file is
// only for the message. The CLI takes no lock, and works beside a server.
// release closes the file, which drops the lock.
func lockData(dataDir string) (release func(), err error) {
	path := filepath.Join(dataDir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("serve lock %s: %w", path, err)
		}
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			holder = "pid " + strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("another tokend serve is using %s (%s): stop it, or give this one another --data", dataDir, holder)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
