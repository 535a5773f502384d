package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/signalbox/signalbox/schema"
)

// Backend is one sample workload: it answers every request with "APP VERSION\n".
type Backend struct {
	App, Version string
	Addr         string // host:port it listens on
	srv          *http.Server
}

// Workloads lists the endpoints the ServiceEntries of a tree declare, with their app and
// version labels, sorted by address.
func Workloads(tree *schema.Tree) []*Backend {
	var out []*Backend
	seen := map[string]bool{}
	for _, d := range tree.Documents {
		se, ok := d.Spec.(*schema.ServiceEntry)
		if !ok {
			continue
		}
		for _, ep := range se.Endpoints {
			for _, p := range se.Ports {
				port := p.Number
				if p.TargetPort != 0 {
					port = p.TargetPort
				}
				if n, ok := ep.Ports[p.Name]; ok {
					port = n
				}
				addr := net.JoinHostPort(ep.Address, strconv.Itoa(int(port)))
				if seen[addr] {
					continue
				}
				seen[addr] = true
				out = append(out, &Backend{App: orName(ep.Labels["app"], d.Name), Version: orName(ep.Labels["version"], "v1"), Addr: addr})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

func orName(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Start listens on b.Addr (":0" ports are replaced by the bound one) and serves until Close.
func (b *Backend) Start() error {
	ln, err := net.Listen("tcp", b.Addr)
	if err != nil {
		return fmt.Errorf("backend %s %s: %w", b.App, b.Version, err)
	}
	b.Addr = ln.Addr().String()
	body := []byte(b.App + " " + b.Version + "\n")
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Workload", b.App+"-"+b.Version)
			w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed under us: nothing left to serve
		}
	}()
	return nil
}

// Close stops the backend.
func (b *Backend) Close() {
	if b.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		b.srv.Shutdown(ctx)
	}
}
