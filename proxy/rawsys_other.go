//go:build !linux

package proxy

import (
	"errors"
	"syscall"
)

// sysRead and sysWrite are the ordinary system calls where the raw ones are not wired up
// (see rawsys_linux.go for why Linux skips the runtime's bookkeeping).
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return max(n, 0), errnoOf(err)
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return max(n, 0), errnoOf(err)
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if err == nil || !errors.As(err, &e) {
		return 0
	}
	return e
}
