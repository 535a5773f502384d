package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// sockIO reads and writes a TCP socket through its raw connection with sysRead and sysWrite
// (rawsys_linux.go): the runtime's poller still parks the goroutine while the socket is not
// ready and deadlines still apply, but each read and write is one bare system call. Its
// callbacks are bound once per connection, so a read or a write allocates nothing.
type sockIO struct {
	conn net.Conn
	rc   syscall.RawConn

	p       []byte
	n       int
	errno   syscall.Errno
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool

	// WriteThenRead's state: what to write before waiting, how much went, a write's error.
	out         []byte
	wrote       int
	sending     bool
	werrno      syscall.Errno
	writeReadFn func(uintptr) bool
}

// newSockIO returns the raw reader and writer of conn, or nil when conn is not a plain TCP
// socket (TLS, a test's pipe), which is then read and written as a net.Conn.
func newSockIO(conn net.Conn) *sockIO {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sockIO{conn: conn, rc: rc}
	s.readFn = s.readStep
	s.writeFn = s.writeStep
	s.writeReadFn = s.writeReadStep
	return s
}

func (s *sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.p, s.n, s.errno = p, 0, 0
	err := s.rc.Read(s.readFn)
	n, errno := s.n, s.errno
	s.p = nil
	switch {
	case err != nil:
		return 0, s.opError("read", unwrapOp(err))
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readStep reads once into s.p; false (EAGAIN) lets the poller wait for data.
func (s *sockIO) readStep(fd uintptr) bool {
	for {
		n, e := sysRead(fd, s.p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.n, s.errno = n, e
		return true
	}
}

func (s *sockIO) Write(p []byte) (int, error) {
	s.p, s.n, s.errno = p, 0, 0
	err := s.rc.Write(s.writeFn)
	n, errno := s.n, s.errno
	s.p = nil
	switch {
	case err != nil:
		return n, s.opError("write", unwrapOp(err))
	case errno != 0:
		return n, s.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// writeStep writes what is left of s.p; false (the send buffer is full) lets the poller wait
// for room.
func (s *sockIO) writeStep(fd uintptr) bool {
	for s.n < len(s.p) {
		n, e := sysWrite(fd, s.p[s.n:])
		s.n += n
		switch e {
		case 0:
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.errno = e
			return true
		}
	}
	return true
}

// WriteThenRead writes out and then reads into p from inside one raw read, so that the
// poller is armed before out goes and the answer to it is read once it is there, without a
// read that finds nothing first (h1sendwait.go). wrote is how much of out was written, even
// on error: a request partly sent cannot be sent again elsewhere.
func (s *sockIO) WriteThenRead(out, p []byte) (wrote, n int, err error) {
	s.p, s.n, s.errno = p, 0, 0
	s.out, s.wrote, s.sending, s.werrno = out, 0, true, 0
	rerr := s.rc.Read(s.writeReadFn)
	wrote, n, errno, werrno := s.wrote, s.n, s.errno, s.werrno
	s.p, s.out = nil, nil
	switch {
	case rerr != nil:
		return wrote, 0, s.opError("read", unwrapOp(rerr))
	case werrno != 0:
		return wrote, 0, s.opError("write", os.NewSyscallError("write", werrno))
	case wrote < len(out):
		// The socket's send buffer was full: finish writing, then read as usual.
		m, err := s.Write(out[wrote:])
		if wrote += m; err != nil {
			return wrote, 0, err
		}
		n, err = s.Read(p)
		return wrote, n, err
	case errno != 0:
		return wrote, 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0 && len(p) > 0:
		return wrote, 0, io.EOF
	}
	return wrote, n, nil
}

// writeReadStep is WriteThenRead's callback: first it writes s.out and reports "not ready",
// so the poller waits for the answer; then it reads as readStep does. A full send buffer
// stops it early, and WriteThenRead writes the rest.
func (s *sockIO) writeReadStep(fd uintptr) bool {
	if !s.sending {
		return s.readStep(fd)
	}
	for s.wrote < len(s.out) {
		m, e := sysWrite(fd, s.out[s.wrote:])
		s.wrote += m
		switch e {
		case 0, syscall.EINTR:
		case syscall.EAGAIN:
			return true
		default:
			s.werrno = e
			return true
		}
	}
	s.sending = false
	return false
}

// opError wraps err as net.Conn's Read and Write report theirs.
func (s *sockIO) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(), Err: err}
}

// unwrapOp takes the raw connection's "raw-read"/"raw-write" wrapping off err (a deadline or
// a closed connection), so that it can be reported as a read's or a write's.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
