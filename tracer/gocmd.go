package tracer

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// goCommand returns a command of the local Go toolchain, run in dir. The go
// command runs the compilers and the linker as its own children, so it gets
// a process group of its own: a cancelled build (ctx) kills the whole group,
// and so does the death of viz itself. race asks for cgo, which -race needs.
func goCommand(ctx context.Context, goTool, dir string, race bool, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if race {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		killGroup(cmd.Process.Pid)
		return nil
	}
	cmd.WaitDelay = time.Second
	return cmd
}
