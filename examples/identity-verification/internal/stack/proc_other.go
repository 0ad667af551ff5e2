//go:build !linux

package stack

import "syscall"

// killWithParent does nothing on this platform.
func killWithParent() *syscall.SysProcAttr { return nil }
