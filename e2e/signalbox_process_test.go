package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Some behaviour is only the real thing as a separate process: a publisher killed with
// SIGKILL, a proxy whose system trust store comes from its environment. These tests run the
// signalbox binary, built once per test run.

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// signalboxBinary builds ./cmd/signalbox on first use; later calls return the same binary.
func signalboxBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binaryErr = err
			return
		}
		if binaryDir, binaryErr = os.MkdirTemp("", "signalbox-e2e-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "signalbox")
		// -pgo=off reuses the packages the tests already compiled; the profile-guided build
		// would compile every dependency again, for a process that is not being measured.
		cmd := exec.Command(goTool, "build", "-pgo=off", "-o", binaryPath, "github.com/signalbox/signalbox/cmd/signalbox")
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = &buildError{err: err, out: string(out)}
		}
	})
	if binaryErr != nil {
		t.Fatalf("building signalbox: %v", binaryErr)
	}
	return binaryPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// child is a running signalbox command whose log (stderr) the test reads.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced whenever a line arrives
}

// startChild runs signalbox with args and extra environment (KEY=VALUE) until the test ends.
func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{t: t, cmd: exec.Command(signalboxBinary(t), args...), done: make(chan struct{}), more: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			close(c.more)
			c.more = make(chan struct{})
			c.mu.Unlock()
		}
		c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.signal(syscall.SIGKILL) })
	return c
}

// signal sends sig and waits for the process to be gone.
func (c *child) signal(sig syscall.Signal) {
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("%s did not exit on %v", c.cmd.Args[1], sig)
	}
}

// logValue waits for a log line with message msg and returns its attribute key, as the
// commands log their bound addresses (slog's text format: msg="admin listening" addr=...).
func (c *child) logValue(msg, key string) string {
	c.t.Helper()
	v, err := c.awaitLog(msg, key)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// awaitLog is logValue returning an error when the process exits or takes too long first.
func (c *child) awaitLog(msg, key string) (string, error) {
	want := "msg=" + msg
	if strings.ContainsAny(msg, " =\"") {
		want = "msg=" + `"` + msg + `"`
	}
	attr := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=(\S+)`)
	deadline := time.After(15 * time.Second)
	for seen := 0; ; {
		c.mu.Lock()
		lines, more := c.lines, c.more
		c.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if strings.Contains(lines[seen], want) {
				if m := attr.FindStringSubmatch(lines[seen]); m != nil {
					return m[1], nil
				}
			}
		}
		select {
		case <-more:
		case <-c.done:
			if c.log() != strings.Join(lines, "\n") {
				continue // lines arrived before the exit: read them first
			}
			return "", fmt.Errorf("%s exited before logging %s %s:\n%s", c.cmd.Args[1], msg, key, c.log())
		case <-deadline:
			return "", fmt.Errorf("%s never logged %s %s:\n%s", c.cmd.Args[1], msg, key, c.log())
		}
	}
}

func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}
