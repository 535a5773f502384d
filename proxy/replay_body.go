package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// Bodies of unknown length (chunked HTTP/1.1, HTTP/2 and so every gRPC call) are streamed
// upstream as they arrive, as Envoy's router streams them, while a copy is kept up to
// maxReplayBody so a retry can send the body again, and a mirror gets it once it is whole; a
// body that grows past that, or is not yet whole when a retry is due, is not retried (nor
// mirrored). Sized bodies are read whole first (bufferBody), as before.

// replayBody is a request body streamed to the first attempt that keeps what it passes on.
type replayBody struct {
	src io.ReadCloser

	mu   sync.Mutex // the transport reads the body on a goroutine of its own
	kept []byte
	over bool // more than maxReplayBody passed: nothing to replay
	eof  bool
	// settled is closed once the kept copy is final: the body ended, grew past
	// maxReplayBody, or was closed before its end. Mirrors wait for it (mirrorBody).
	settled chan struct{}
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	b.mu.Lock()
	if n > 0 && !b.over {
		if len(b.kept)+n > maxReplayBody {
			b.over, b.kept = true, nil
			b.settleLocked()
		} else {
			b.kept = append(b.kept, p[:n]...)
		}
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
		b.settleLocked()
	}
	b.mu.Unlock()
	return n, err
}

func (b *replayBody) Close() error {
	b.mu.Lock()
	b.settleLocked()
	b.mu.Unlock()
	return b.src.Close()
}

func (b *replayBody) settleLocked() {
	select {
	case <-b.settled:
	default:
		close(b.settled)
	}
}

var errNotReplayable = errors.New("request body not kept for a retry")

// whole is the kept copy, and whether it is the whole body: the body ended within
// maxReplayBody.
func (b *replayBody) whole() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.kept, b.eof && !b.over
}

// replay is the body again, for another attempt: only once the whole of it came and was kept.
func (b *replayBody) replay() (io.ReadCloser, error) {
	kept, ok := b.whole()
	if !ok {
		return nil, errNotReplayable
	}
	return io.NopCloser(bytes.NewReader(kept)), nil
}

// keepForReplay streams r's body of unknown length through a replayBody, so a retry can send
// it again when it turns out small and complete.
func keepForReplay(r *http.Request) {
	b := &replayBody{src: r.Body, settled: make(chan struct{})}
	r.Body = b
	r.GetBody = b.replay
}

// mirrorBody is a shadow request's copy of a body of unknown length: it waits until the
// original's copy is settled and then reads it, or fails when the original was not kept
// whole (Envoy streams shadows; a body past maxReplayBody is not mirrored here). Closing it
// ends the wait, so a shadow whose time runs out does not hold its goroutine.
type mirrorBody struct {
	src    *replayBody
	closed chan struct{}
	once   sync.Once
	r      *bytes.Reader
}

func (m *mirrorBody) Read(p []byte) (int, error) {
	if m.r == nil {
		select {
		case <-m.src.settled:
		case <-m.closed:
			return 0, io.ErrClosedPipe
		}
		kept, ok := m.src.whole()
		if !ok {
			return 0, errNotReplayable
		}
		m.r = bytes.NewReader(kept)
	}
	return m.r.Read(p)
}

func (m *mirrorBody) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

// mirrorCopy is a body for a shadow of r: r's own replayable copy, or for a body of unknown
// length still streaming, one that waits for it (mirrorBody).
func mirrorCopy(r *http.Request) io.ReadCloser {
	if b, ok := r.Body.(*replayBody); ok {
		return &mirrorBody{src: b, closed: make(chan struct{})}
	}
	if r.GetBody != nil {
		body, _ := r.GetBody()
		return body
	}
	return http.NoBody
}

// canReplay reports whether another attempt can send r's body: none, one read whole, or one
// streamed whole within maxReplayBody.
func canReplay(r *http.Request) bool {
	b, ok := r.Body.(*replayBody)
	if !ok {
		return true
	}
	_, whole := b.whole()
	return whole
}
