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
// maxReplayBody so a retry can send the body again; a body that grows past that, or is not
// yet whole when a retry is due, is not retried. Sized bodies are read whole first
// (bufferBody), as before.

// replayBody is a request body streamed to the first attempt that keeps what it passes on.
type replayBody struct {
	src io.ReadCloser

	mu   sync.Mutex // the transport reads the body on a goroutine of its own
	kept []byte
	over bool // more than maxReplayBody passed: nothing to replay
	eof  bool
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	b.mu.Lock()
	if n > 0 && !b.over {
		if len(b.kept)+n > maxReplayBody {
			b.over, b.kept = true, nil
		} else {
			b.kept = append(b.kept, p[:n]...)
		}
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	b.mu.Unlock()
	return n, err
}

func (b *replayBody) Close() error { return b.src.Close() }

var errNotReplayable = errors.New("request body not kept for a retry")

// replay is the body again, for another attempt: only once the whole of it came and was kept.
func (b *replayBody) replay() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over || !b.eof {
		return nil, errNotReplayable
	}
	return io.NopCloser(bytes.NewReader(b.kept)), nil
}

// keepForReplay streams r's body of unknown length through a replayBody, so a retry can send
// it again when it turns out small and complete.
func keepForReplay(r *http.Request) {
	b := &replayBody{src: r.Body}
	r.Body = b
	r.GetBody = b.replay
}

// canReplay reports whether another attempt can send r's body: none, one read whole, or one
// streamed whole within maxReplayBody.
func canReplay(r *http.Request) bool {
	b, ok := r.Body.(*replayBody)
	if !ok {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof && !b.over
}
