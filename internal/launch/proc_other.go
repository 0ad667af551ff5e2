//go:build !linux

package launch

import "os/exec"

// killWithParent does nothing on this platform: a test binary that dies
// without running its cleanups leaves the process running.
func killWithParent(*exec.Cmd) {}
