// Package testnet holds the loopback network fixtures that the tests of several packages
// share.
package testnet

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// HangingAddr is a loopback address whose connects neither complete nor fail: a listening
// socket with a backlog of 0 that never accepts, its accept queue filled first. Linux drops
// SYNs to a listener whose accept queue is full, so the client keeps retransmitting its SYN
// until its own timeout. It skips the test where a connect to it does not hang.
func HangingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// The connects that fill the queue complete in the kernel and stay open until the end.
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break // the queue is full already
		}
		t.Cleanup(func() { c.Close() })
	}
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		c.Close()
		t.Skip("the kernel completed a connect to a listener whose accept queue is full: no hanging connect to test with")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) < 250*time.Millisecond {
		t.Skipf("a connect to a full accept queue failed at once (%v), it did not hang", err)
	}
	return addr
}
