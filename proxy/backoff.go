package proxy

import (
	"math/rand/v2"
	"time"
)

// backoff spaces reconnection attempts: the first retry comes fast (a publisher restart or a
// replica switch is the common case), then exponentially up to a cap, with jitter so a fleet
// of proxies does not reconnect in lockstep.
type backoff struct{ n int }

const (
	backoffBase = 100 * time.Millisecond
	backoffCap  = 5 * time.Second
)

func (b *backoff) reset() { b.n = 0 }

// next returns a delay in [d/2, d), where d doubles from backoffBase up to backoffCap.
func (b *backoff) next() time.Duration {
	d := backoffCap
	if b.n < 16 {
		d = min(backoffBase<<b.n, backoffCap)
	}
	b.n++
	return d/2 + rand.N(d/2)
}
