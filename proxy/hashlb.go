package proxy

import (
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// hash64 is FNV-1a with a final avalanche: deterministic across processes, so a key maps to
// the same endpoint in every proxy that holds the same endpoints.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

type ringEntry struct {
	hash uint64
	idx  uint32
}

// buildRing places each endpoint on the ring in proportion to its weight, at least
// minSize entries in all, as Envoy's ring hash does.
func buildRing(eps []*endpoint, minSize uint64) []ringEntry {
	var total uint64
	for _, e := range eps {
		total += uint64(e.weight)
	}
	var ring []ringEntry
	for i, e := range eps {
		n := max(1, (minSize*uint64(e.weight)+total-1)/total)
		for k := uint64(0); k < n; k++ {
			ring = append(ring, ringEntry{hash: hash64(e.addr + "_" + strconv.FormatUint(k, 10)), idx: uint32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b ringEntry) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return int(a.idx) - int(b.idx)
	})
	return ring
}

// ringLookup returns the endpoint of the first ring entry at or after h, wrapping around.
func ringLookup(ring []ringEntry, h uint64) uint32 {
	i, _ := slices.BinarySearchFunc(ring, h, func(e ringEntry, h uint64) int {
		if e.hash < h {
			return -1
		}
		if e.hash > h {
			return 1
		}
		return 0
	})
	if i == len(ring) {
		i = 0
	}
	return ring[i].idx
}

// buildMaglev fills a Maglev lookup table of size m (prime), each endpoint taking turns in
// proportion to its weight, as Envoy's weighted Maglev does.
func buildMaglev(eps []*endpoint, m uint64) []uint32 {
	n := len(eps)
	offset, skip, next := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	var maxW uint64
	for i, e := range eps {
		offset[i] = hash64(e.addr) % m
		skip[i] = hash64(e.addr+"#skip")%(m-1) + 1
		maxW = max(maxW, uint64(e.weight))
	}
	table := make([]uint32, m)
	filled := make([]bool, m)
	counts := make([]uint64, n)
	var done uint64
	for iter := uint64(1); done < m; iter++ {
		for i, e := range eps {
			// Endpoint i takes a slot this round if its share so far is below weight/maxW.
			if counts[i]*maxW >= iter*uint64(e.weight) {
				continue
			}
			for {
				c := (offset[i] + next[i]*skip[i]) % m
				next[i]++
				if !filled[c] {
					filled[c], table[c] = true, uint32(i)
					counts[i]++
					done++
					break
				}
			}
			if done == m {
				break
			}
		}
	}
	return table
}

// requestHash computes a route's hash policies over a request, combining them as Envoy does.
// setCookie is a Set-Cookie value to add to the response when a cookie policy generated one.
func requestHash(policies []hashPolicy, r *http.Request) (h uint64, ok bool, setCookie string) {
	for i := range policies {
		hp := &policies[i]
		key, found := "", false
		switch hp.kind {
		case hashHeader:
			if hp.name == "Host" {
				key, found = r.Host, true
			} else if vv := r.Header[hp.name]; len(vv) > 0 {
				key, found = vv[0], true
			}
		case hashCookie:
			if ck, err := r.Cookie(hp.name); err == nil {
				key, found = ck.Value, true
			} else if hp.hasTTL {
				key = strconv.FormatUint(hash64(r.RemoteAddr), 16)
				found = true
				c := &http.Cookie{Name: hp.name, Value: key, Path: hp.cookiePath, HttpOnly: true}
				if hp.ttl > 0 {
					c.MaxAge = int(hp.ttl / time.Second)
				}
				setCookie = c.String()
			}
		case hashSourceIP:
			key, found = remoteIP(r), true
		case hashQuery:
			key, found = queryValue(r.URL.RawQuery, hp.name)
		}
		if !found {
			continue
		}
		kh := hash64(key)
		if ok {
			h = bits.RotateLeft64(h, 1) ^ kh
		} else {
			h, ok = kh, true
		}
		if hp.terminal {
			break
		}
	}
	return h, ok, setCookie
}

func remoteIP(r *http.Request) string {
	if ci, _ := r.Context().Value(connInfoKey{}).(*connInfo); ci != nil {
		return ci.ip
	}
	return newConnInfo(r.RemoteAddr).ip
}
