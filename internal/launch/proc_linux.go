package launch

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill the process started by cmd when the
// test binary dies without running its cleanups (a test timeout, a signal).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
