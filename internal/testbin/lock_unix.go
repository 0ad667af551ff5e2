//go:build unix

package testbin

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the file at p, creating it if
// needed, and waits while another process holds it. The lock is released by
// the returned function, or by the kernel if the process dies.
func lockFile(p string) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func exeSuffix() string { return "" }
