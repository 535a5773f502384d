package proxy

import (
	"bufio"
	"io"
	"net/http"
)

// h1LengthBody reads a body of known length straight from a connection's buffered reader:
// the request body of the lean server (one per connection, reset per request) and the
// response body of the lean transport.
type h1LengthBody struct {
	br     *bufio.Reader
	left   int64
	closed bool
}

func (b *h1LengthBody) reset(br *bufio.Reader, n int64) {
	b.br, b.left, b.closed = br, n, false
}

func (b *h1LengthBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close stops reads; what is left unread stays on the connection for drain.
func (b *h1LengthBody) Close() error {
	b.closed = true
	return nil
}

// drain discards up to limit unread bytes; false when more remain or reading failed, so the
// connection cannot carry another message.
func (b *h1LengthBody) drain(limit int64) bool {
	if b.left <= 0 {
		return true
	}
	if b.left > limit {
		return false
	}
	n, err := b.br.Discard(int(b.left))
	b.left -= int64(n)
	return err == nil && b.left == 0
}
