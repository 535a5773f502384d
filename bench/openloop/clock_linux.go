package main

import (
	"syscall"
	"unsafe"
)

const (
	clockMonotonic  = 1 // CLOCK_MONOTONIC, the clock Go's monotonic readings use
	timerAbstime    = 1 // TIMER_ABSTIME
	prSetTimerSlack = 29
)

// preciseThread lowers this thread's timer slack from the default 50 µs to 1 ns, so
// clock_nanosleep wakes up when asked. The caller must hold runtime.LockOSThread.
func preciseThread() {
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
}

// monoNow reads CLOCK_MONOTONIC in nanoseconds.
func monoNow() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// sleepUntil blocks the calling thread until CLOCK_MONOTONIC reaches ns. It is a blocking
// system call on purpose: the runtime's timers would round the wake-up to the millisecond.
func sleepUntil(ns int64) {
	ts := syscall.NsecToTimespec(ns)
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_CLOCK_NANOSLEEP, clockMonotonic, timerAbstime,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}
