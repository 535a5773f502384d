package proxy

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"unsafe"
)

// requestID is a generated x-request-id value with the one-element slice a header map holds
// it in: one allocation for both. The string points into text, which is never written again
// once made.
type requestID struct {
	vals [1]string
	text [36]byte
}

// newRequestID returns the header value of a random (version 4) UUID for x-request-id, as
// Envoy's connection manager generates one for a request that has none (generate_request_id,
// true unless the connection manager sets it false). Applications log it and tracing joins
// spans by it. math/rand/v2's generator is ChaCha8 seeded from the system per thread:
// unpredictable enough for an identifier, and it costs no system call or lock.
func newRequestID() []string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], rand.Uint64())
	binary.BigEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	id := new(requestID)
	b := &id.text
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	id.vals[0] = unsafe.String(&b[0], len(b))
	return id.vals[:]
}
