package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// domainIndex selects a virtual host the way Envoy does: an exact domain, then the longest
// suffix wildcard ("*.example.com"), then the longest prefix wildcard ("example.*"), then "*".
// Matching is case-insensitive.
type domainIndex struct {
	exact    map[string]int
	suffixes []wildcard // longest first
	prefixes []wildcard // longest first
	any      int        // -1 when no virtual host lists "*"
}

type wildcard struct {
	s     string // the domain without its '*'
	vhost int
}

type domainIndexBuilder struct {
	idx   domainIndex
	owner map[string]string // domain -> virtual host name, to refuse duplicates as Envoy does
}

func (b *domainIndexBuilder) add(domain string, vhost int, vhostName string) error {
	if b.owner == nil {
		b.owner = map[string]string{}
		b.idx.exact = map[string]int{}
		b.idx.any = -1
	}
	d := strings.ToLower(domain)
	if d == "" {
		return fmt.Errorf("empty domain")
	}
	if other, dup := b.owner[d]; dup {
		return fmt.Errorf("domain %q is also listed by virtual host %q: domains must be unique", domain, other)
	}
	b.owner[d] = vhostName
	switch n := strings.Count(d, "*"); {
	case d == "*":
		b.idx.any = vhost
	case n == 0:
		b.idx.exact[d] = vhost
	case n == 1 && d[0] == '*':
		b.idx.suffixes = append(b.idx.suffixes, wildcard{d[1:], vhost})
	case n == 1 && d[len(d)-1] == '*':
		b.idx.prefixes = append(b.idx.prefixes, wildcard{d[:len(d)-1], vhost})
	default:
		return fmt.Errorf("invalid domain %q: a wildcard must be the whole domain, its first or its last character", domain)
	}
	return nil
}

func (b *domainIndexBuilder) build() domainIndex {
	if b.owner == nil {
		return domainIndex{any: -1}
	}
	longestFirst := func(a, b wildcard) int { return len(b.s) - len(a.s) }
	slices.SortStableFunc(b.idx.suffixes, longestFirst)
	slices.SortStableFunc(b.idx.prefixes, longestFirst)
	return b.idx
}

// find returns the virtual host index for host, or -1. The host is matched as it is, port and
// all, as Envoy's route table matches it: a connection manager that wants the port ignored
// says so with strip_any_host_port, which takes it off the request before routing (forward.go).
func (d *domainIndex) find(host string) int {
	host = lowerASCII(host)
	if i, ok := d.exact[host]; ok {
		return i
	}
	for _, w := range d.suffixes {
		if len(host) > len(w.s) && strings.HasSuffix(host, w.s) {
			return w.vhost
		}
	}
	for _, w := range d.prefixes {
		if len(host) > len(w.s) && strings.HasPrefix(host, w.s) {
			return w.vhost
		}
	}
	return d.any
}

// stripAnyHostPort removes the port from a request's Host, as Envoy's strip_any_host_port
// does (HeaderUtility::stripPortFromHost): the port is what follows the last ':' when no ']'
// comes after it and it is a number. A CONNECT request keeps its port.
func stripAnyHostPort(r *http.Request) {
	if r.Method == http.MethodConnect {
		return
	}
	i := strings.LastIndexByte(r.Host, ':')
	if i < 0 || strings.LastIndexByte(r.Host, ']') > i {
		return
	}
	if _, err := strconv.ParseUint(r.Host[i+1:], 10, 32); err != nil {
		return
	}
	r.Host = r.Host[:i]
}
