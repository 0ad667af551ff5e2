package localsfn

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill the process started by cmd when the
// process that started it dies without cleaning up (a test timeout, a
// signal).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
