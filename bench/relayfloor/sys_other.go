//go:build !linux

package main

import "syscall"

// The floor is measured on Linux only; elsewhere the relay uses plain system calls through
// the syscall package.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return fixup(n, err)
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return fixup(n, err)
}

func fixup(n int, err error) (int, syscall.Errno) {
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return n, 0
}
