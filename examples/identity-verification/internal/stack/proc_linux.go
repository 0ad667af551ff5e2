package stack

import "syscall"

// killWithParent makes the kernel kill a child process when the process
// that started it dies without cleaning up.
func killWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
