//go:build !unix

package testbin

import "runtime"

// lockFile does not lock on this platform: concurrent builds may duplicate
// work, but the rename into place keeps the result whole.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
