package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// A listener's certificates, keys and client CA named by file follow those files, as Envoy's
// SDS follows a Kubernetes Secret: kubelet updates a mounted Secret by swapping a symlinked
// directory, cert-manager or an operator by replacing the files, and neither changes the
// xDS, so nothing is pushed. At most once a second (tlsFilesRecheck) a handshake looks at
// the files (a stat each: identity, size and modification time, through symlinks); when one
// changed they are read again off the handshake path, and the handshakes after that present
// the new certificate and verify clients against the new CA. A set that does not load (a
// certificate whose key has not been written yet, a truncated file) leaves the last good one
// serving, and is logged once, until the files change again.

// tlsFilesRecheck is how often, at most, a listener's handshakes look at its files.
const tlsFilesRecheck = time.Second

// serverCreds is what a listener's handshakes use from its files: its certificates and the
// roots client certificates are verified against (nil without a validation context).
type serverCreds struct {
	certs []tls.Certificate
	roots *x509.CertPool
}

// certificateFor chooses a certificate for a ClientHello as crypto/tls does from
// Config.Certificates: the only one, else the first the client supports, else the first.
func (c *serverCreds) certificateFor(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(c.certs) > 1 {
		for i := range c.certs {
			if hello.SupportsCertificate(&c.certs[i]) == nil {
				return &c.certs[i], nil
			}
		}
	}
	return &c.certs[0], nil
}

// credFiles follows the files of one DownstreamTlsContext.
type credFiles struct {
	paths []string
	load  func() (*serverCreds, error)
	creds atomic.Pointer[serverCreds]
	// next is the monoNow at which a handshake next looks at the files.
	next atomic.Int64
	// busy is held by the handshake looking at the files and by the reload it starts.
	busy atomic.Bool
	// seen is each file as last looked at (nil: it could not be), written under busy.
	seen []os.FileInfo
	log  atomic.Pointer[slog.Logger]
}

// newCredFiles loads the files at paths with load, once, now: an error is the caller's NACK.
func newCredFiles(paths []string, load func() (*serverCreds, error)) (*credFiles, error) {
	f := &credFiles{paths: paths, load: load, seen: statFiles(paths)}
	c, err := load()
	if err != nil {
		return nil, err
	}
	f.creds.Store(c)
	f.next.Store(int64(monoNow() + tlsFilesRecheck))
	return f, nil
}

// current is the credentials a handshake uses now. A stat of each file, at most once per
// tlsFilesRecheck and by one handshake, is all it may wait for.
func (f *credFiles) current() *serverCreds {
	if now := monoNow(); int64(now) >= f.next.Load() && f.busy.CompareAndSwap(false, true) {
		f.look(now)
	}
	return f.creds.Load()
}

// look stats the files, under busy, and reloads them in the background if one changed.
func (f *credFiles) look(now time.Duration) {
	if int64(now) < f.next.Load() {
		f.busy.Store(false) // another handshake has just looked
		return
	}
	f.next.Store(int64(now + tlsFilesRecheck))
	seen := statFiles(f.paths)
	if sameFiles(seen, f.seen) {
		f.busy.Store(false)
		return
	}
	// Recorded before reading: a file that changes while it is read is read again next time,
	// and a set that does not load is tried (and logged) once until it changes again.
	f.seen = seen
	go func() {
		defer f.busy.Store(false)
		c, err := f.load()
		log := f.log.Load()
		if err != nil {
			if log != nil {
				log.Warn("TLS files changed but do not load; the certificates loaded before keep serving", "files", f.paths, "err", err)
			}
			return
		}
		f.creds.Store(c)
		if log != nil {
			log.Info("TLS files reloaded", "files", f.paths)
		}
	}()
}

// statFiles is each file as it is now, through symlinks; nil where it cannot be read.
func statFiles(paths []string) []os.FileInfo {
	out := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fi
		}
	}
	return out
}

// sameFiles reports whether no file changed: the same file (device and inode), size and
// modification time, or missing both times.
func sameFiles(a, b []os.FileInfo) bool {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) {
			return false
		}
		if a[i] != nil && (!os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime())) {
			return false
		}
	}
	return true
}

// credFilesOf maps a server configuration decodeDownstreamTLS built to the files it follows,
// so that the proxy applying the listener can give them its logger (logTLSFiles). The key is
// weak and dropped with the configuration, which an update replaces.
var credFilesOf sync.Map // weak.Pointer[tls.Config] -> *credFiles

func registerCredFiles(cfg *tls.Config, f *credFiles) {
	k := weak.Make(cfg)
	credFilesOf.Store(k, f)
	runtime.AddCleanup(cfg, func(k weak.Pointer[tls.Config]) { credFilesOf.Delete(k) }, k)
}

// logTLSFiles gives the files a listener's TLS follows the logger their reloads are reported
// to.
func (l *listenerConfig) logTLSFiles(log *slog.Logger) {
	cfgs := []*tls.Config{l.tls}
	if l.sni != nil {
		for _, c := range l.sni.chains {
			cfgs = append(cfgs, c.tls)
		}
	}
	for _, cfg := range cfgs {
		if cfg == nil {
			continue
		}
		if f, ok := credFilesOf.Load(weak.Make(cfg)); ok {
			f.(*credFiles).log.Store(log)
		}
	}
}
