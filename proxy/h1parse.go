package proxy

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The lean HTTP/1.1 paths parse message heads themselves when the whole head is in the
// connection's read buffer, which is nearly always: one string allocation for the head, keys
// and values are substrings of it, value slices come from a buffer reused per connection, and
// no textproto.Reader, MIME map or body wrapper is made. Anything unusual (a bare LF, a folded
// line, Transfer-Encoding, repeated Content-Length or Host, Pragma, an absolute or escaped
// request target, a head larger than the buffer) is left unread and handed to net/http's
// parser, so the fast path never has to be right about the corners: FuzzParseRequest and
// FuzzParseResponse check that whenever it answers, net/http answers the same.

// headScan is what scanHead found in a buffer.
type headScan int

const (
	headIncomplete headScan = iota // no blank line yet; read more
	headComplete                   // the head ends at the returned offset
	headUnusual                    // a bare LF or a line that starts with white space: net/http's parser
)

// lineEnds holds where the first lines of a head end, as scanHead found them, so the parsers
// do not look for each line's end a second time.
type lineEnds struct {
	n     int
	at    [32]int32 // offsets of the LF of lines 0 to n-1 (line 0: the request or status line)
	total int       // every line scanHead saw, the blank line included
}

// end returns the offset in head of the LF ending line k, which starts at start: the offset
// scanHead recorded, or found again for a line past those (or when le is nil).
func (le *lineEnds) end(head string, k, start int) int {
	if le != nil && k < le.n {
		return int(le.at[k])
	}
	return start + strings.IndexByte(head[start:], '\n')
}

// scanHead looks for the blank line that ends a message head in buf, resuming at from (an
// offset scanHead returned before for the same buffer). It returns where the head ends
// (after its blank line) or where to resume, and the number of lines seen so far. It records
// where lines end in le (from 0: afresh), when le is not nil.
func scanHead(buf []byte, from int, le *lineEnds) (int, headScan) {
	i := from
	if le != nil && from == 0 {
		le.n, le.total = 0, 0
	}
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return i, headIncomplete
		}
		j += i
		if le != nil {
			le.total++
			if le.n < len(le.at) {
				le.at[le.n] = int32(j)
				le.n++
			}
		}
		if j == 0 || buf[j-1] != '\r' {
			return 0, headUnusual
		}
		if j == i+1 { // "\r\n" alone: the blank line
			if i == 0 {
				return 0, headUnusual // a leading empty line: net/http's parser decides
			}
			return j + 1, headComplete
		}
		if i > 0 && (buf[i] == ' ' || buf[i] == '\t') {
			return 0, headUnusual // obs-fold
		}
		i = j + 1
	}
}

// headFields are the headers whose meaning the parsers act on, counted while parsing.
type headFields struct {
	request        bool // Host goes to host, not into the header map, as net/http does
	host           string
	hosts, lengths int
	contentLength  int64 // -1 when absent
	connection     []string
	unusual        bool // a header only net/http's parser handles exactly
	// relay: only the fields retries read go into the map (relayedFields); hopByHop and date
	// say whether the head can be relayed as it came and whether it has a Date.
	relay    bool
	hopByHop bool
	date     bool
	// rewritten: a response field the connection manager or router replaces (Server,
	// x-envoy-upstream-service-time), so the head cannot be relayed as it came either.
	rewritten bool
}

// parseHeaderLines parses the "Key: value\r\n" lines of head from start (after its first
// line) to its blank line into h, taking value slices from *vals; le says where they end. It
// reports false for anything it leaves to net/http.
func parseHeaderLines(head string, start int, le *lineEnds, h http.Header, vals *[]string, f *headFields) bool {
	f.contentLength = -1
	for k := 1; len(head)-start > 2; k++ {
		nl := le.end(head, k, start) // present: scanHead saw every line end in CRLF
		line := head[start : nl-1]
		start = nl + 1
		key, rest, ok := splitField(line)
		if !ok {
			return false
		}
		v := trimOWS(rest)
		if !validFieldValue(v) {
			return false
		}
		switch key {
		case "Host":
			f.hosts++
			f.host = v
		case "Content-Length":
			f.lengths++
			n, ok := parseDigits(v)
			if !ok {
				return false
			}
			f.contentLength = n
		case "Connection":
			f.connection = append(f.connection, v)
			f.hopByHop = true
		case "Keep-Alive", "Proxy-Connection", "Upgrade", "Te":
			f.hopByHop = true
		case "Date":
			f.date = true
		case "Server", "X-Envoy-Upstream-Service-Time":
			f.rewritten = true
		case "Transfer-Encoding", "Pragma", "Trailer":
			f.unusual = true
		}
		if f.unusual || f.hosts > 1 || f.lengths > 1 {
			return false
		}
		if f.request && key == "Host" || f.relay && !relayedFields(key) {
			continue
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, v) // a repeated field: the shared buffer's slice is capped, so this copies
			continue
		}
		*vals = append(*vals, v)
		n := len(*vals)
		h[key] = (*vals)[n-1 : n : n]
	}
	return true
}

// trimOWS drops the spaces and tabs around a field value, as textproto does.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// headHasField reports whether the message head at the start of raw (a request or status
// line, then fields up to a blank line; lines may end in a bare LF, as net/http accepts) has a
// field named name, in any case.
func headHasField(raw []byte, name string) bool {
	for len(raw) > 0 && (raw[0] == '\r' || raw[0] == '\n') {
		raw = raw[1:] // empty lines before the request line
	}
	_, raw, _ = bytes.Cut(raw, []byte("\n")) // the request line
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return false // the blank line: the body follows
		}
		if key, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

// parseDigits reads a Content-Length: 1 to 18 decimal digits, nothing else.
func parseDigits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tokenByte marks the bytes of an RFC 9110 token (field names, methods).
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// splitField splits a "Key: value" line at its colon in the same pass that checks the key is
// a token, and returns the key in textproto's canonical form, without allocating when it
// already is (as nearly every client sends it); false when the line has no key or the key is
// not a token.
func splitField(line string) (key, rest string, ok bool) {
	upper := true
	canonical := true
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == ':' {
			break
		}
		if !tokenByte[c] {
			return "", "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if i == 0 || i == len(line) {
		return "", "", false
	}
	key, rest = line[:i], line[i+1:]
	if canonical {
		return key, rest, true
	}
	if ck, ok := commonKeys[strings.ToLower(key)]; ok {
		return ck, rest, true
	}
	return textproto.CanonicalMIMEHeaderKey(key), rest, true
}

// commonKeys holds the canonical spelling of fields HTTP/2-minded clients send in lower case.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Date", "Host",
		"Origin", "Referer", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
		"Traceparent", "Etag", "Server", "Location", "Set-Cookie", "Vary", "Last-Modified", "Expires"} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// pathByte marks the bytes url.URL keeps unescaped in a path, so a path of only these has
// URL.Path == the raw path and no RawPath, and needs no url.ParseRequestURI.
var pathByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// parseTarget fills u from an origin-form request target. Targets url.ParseRequestURI would
// treat in any way but splitting off the query go through it.
func parseTarget(target string, u *url.URL) error {
	*u = url.URL{}
	path, query, hasQuery := strings.Cut(target, "?")
	simple := len(path) > 0 && path[0] == '/' && (!hasQuery || query != "")
	for i := 0; simple && i < len(path); i++ {
		simple = pathByte[path[i]]
	}
	for i := 0; simple && i < len(query); i++ {
		c := query[i]
		simple = c > ' ' && c != 0x7f
	}
	if simple {
		u.Path, u.RawQuery = path, query
		return nil
	}
	parsed, err := url.ParseRequestURI(target)
	if err != nil {
		return err
	}
	*u = *parsed
	return nil
}

// parseRequestLine splits "METHOD target HTTP/1.x"; false for anything else, and for the
// methods net/http treats specially (CONNECT's authority form, the HTTP/2 preface).
func parseRequestLine(line string) (method, target string, minor int, ok bool) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || method == http.MethodConnect || method == "PRI" || target == "" {
		return "", "", 0, false
	}
	for i := 0; i < len(method); i++ {
		if !tokenByte[method[i]] {
			return "", "", 0, false
		}
	}
	switch proto {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	default:
		return "", "", 0, false
	}
	return method, target, minor, true
}

// h1RequestHead is what parseRequestHead reuses from one request to the next on a connection.
type h1RequestHead struct {
	url  url.URL
	hdr  http.Header
	vals []string
}

// errMissingHost is net/http's answer to an HTTP/1.1 request without Host.
var errMissingHost = errorString("missing required Host header")

// parseRequestHead parses a complete request head (request line to blank line, as scanHead
// delimited it) into r, which the caller has reset. ok false: net/http's parser must read this
// request; err: the request is malformed (a 400).
func parseRequestHead(head string, le *lineEnds, r *http.Request, st *h1RequestHead) (ok bool, err error) {
	nl := le.end(head, 0, 0)
	method, target, minor, ok := parseRequestLine(head[:nl-1])
	if !ok {
		return false, nil
	}
	clear(st.hdr)
	st.vals = st.vals[:0]
	f := headFields{request: true}
	if !parseHeaderLines(head, nl+1, le, st.hdr, &st.vals, &f) {
		return false, nil
	}
	if err := parseTarget(target, &st.url); err != nil {
		return true, err
	}
	if st.url.Host != "" || st.url.Scheme != "" {
		return false, nil // absolute form: net/http's rules for Host
	}
	r.Method, r.RequestURI, r.URL, r.Header = method, target, &st.url, st.hdr
	r.ProtoMajor, r.ProtoMinor = 1, minor
	r.Proto = "HTTP/1.1"
	if minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	r.Host = f.host
	if r.Host == "" && minor == 1 {
		return true, errMissingHost
	}
	// net/http's shouldClose for a request.
	r.Close = headerHasToken(f.connection, "close") || minor == 0 && !headerHasToken(f.connection, "keep-alive")
	r.ContentLength = max(f.contentLength, 0)
	r.Body = http.NoBody
	return true, nil
}

// h1ResponseHead is a parsed response: its fields go into an http.Response.
type h1ResponseHead struct {
	status        int
	statusText    string // "200 OK"
	minor         int
	contentLength int64
	close         bool
	// relay, when set, asks for the head to be kept as it came when nothing in it is
	// hop-by-hop (relayedHead.ok); the header map then holds only relayedFields.
	relay *relayedHead
}

// parseResponseHead parses a complete response head for a request of method into h. ok false:
// net/http's parser must read it: 1xx, 204 and 304 answers, answers to HEAD, bodies without a
// Content-Length, and whatever parseHeaderLines refuses.
func parseResponseHead(head string, le *lineEnds, method string, h http.Header, vals *[]string, out *h1ResponseHead) bool {
	nl := le.end(head, 0, 0)
	line := head[:nl-1]
	var proto string
	switch {
	case strings.HasPrefix(line, "HTTP/1.1 "):
		out.minor, proto = 1, line[9:]
	case strings.HasPrefix(line, "HTTP/1.0 "):
		out.minor, proto = 0, line[9:]
	default:
		return false
	}
	if len(proto) < 3 || proto[0] < '2' || proto[0] > '5' || proto[1] < '0' || proto[1] > '9' || proto[2] < '0' || proto[2] > '9' ||
		len(proto) > 3 && proto[3] != ' ' {
		return false
	}
	out.status = int(proto[0]-'0')*100 + int(proto[1]-'0')*10 + int(proto[2]-'0')
	if out.status == http.StatusNoContent || out.status == http.StatusNotModified || method == http.MethodHead {
		return false
	}
	out.statusText = proto
	fields := head[nl+1:]
	f := headFields{relay: out.relay != nil}
	if !parseHeaderLines(head, nl+1, le, h, vals, &f) || f.contentLength < 0 {
		return false
	}
	if f.relay {
		if f.hopByHop || f.rewritten {
			// Relayed fields must be the message's own: parse again into the whole map, which
			// the forwarder filters.
			clear(h)
			*vals = (*vals)[:0]
			f = headFields{}
			if !parseHeaderLines(head, nl+1, le, h, vals, &f) {
				return false
			}
		} else {
			*out.relay = relayedHead{ok: true, fields: fields[:len(fields)-2], date: f.date}
		}
	}
	out.contentLength = f.contentLength
	// net/http's shouldClose for a response, which also drops a Connection: close.
	hasClose := headerHasToken(f.connection, "close")
	out.close = hasClose || out.minor == 0 && !headerHasToken(f.connection, "keep-alive")
	if hasClose && out.minor == 1 {
		delete(h, "Connection")
	}
	return true
}
