//go:build !linux

package localsfn

import "os/exec"

// killWithParent does nothing on this platform: a process that dies without
// cleaning up leaves the processes it started running.
func killWithParent(*exec.Cmd) {}
