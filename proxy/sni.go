package proxy

// The TLS ClientHello reader behind the tls_inspector listener filter (tcp_inspect.go): it
// finds the SNI a TLS passthrough listener routes by, without terminating TLS. It follows
// what Envoy's inspector (BoringSSL) accepts, so a connection goes to the filter chain a real
// Envoy would pick: a malformed hello is "not TLS" (no SNI), never an error that closes.

// helloState is what the bytes read so far say.
type helloState uint8

const (
	helloNeedMore helloState = iota // a TLS handshake so far: read more
	helloComplete                   // a whole ClientHello; sni is its server name, "" if none
	helloNotTLS                     // not a TLS ClientHello (or a malformed one): no SNI
)

const (
	tlsRecordHeaderLen = 5
	tlsRecordHandshake = 22
	// BoringSSL refuses a record whose body exceeds 2^14+2048 as soon as it reads the header,
	// and a plaintext record over 2^14 once it has it.
	tlsMaxRecordBody   = 16384 + 2048
	tlsMaxPlainRecord  = 16384
	tlsMaxHelloMessage = 16384 // BoringSSL's limit on a handshake message a server reads
	tlsMaxEmptyRecords = 32    // consecutive empty records BoringSSL tolerates
	tlsMaxHostName     = 255
)

// parseClientHelloSNI reads b, the first bytes of a connection, as TLS records carrying a
// ClientHello, which may span several records and arrive in pieces. It never panics and
// never reads outside b.
func parseClientHelloSNI(b []byte) (string, helloState) {
	sni, st, _ := readClientHello(b)
	return sni, st
}

// readClientHello is parseClientHelloSNI that also says, when it needs more, how many bytes
// b must hold before the answer can change, so a reader fed a byte at a time parses once
// per record rather than once per byte.
func readClientHello(b []byte) (sni string, st helloState, need int) {
	var msg []byte // the handshake message reassembled from the records so far
	empty := 0
	start := len(b)
	for len(b) > 0 {
		if len(b) < tlsRecordHeaderLen {
			return "", helloNeedMore, start - len(b) + tlsRecordHeaderLen // BoringSSL decides nothing before a whole header
		}
		typ, major, n := b[0], b[1], int(b[3])<<8|int(b[4])
		if typ&0x80 != 0 && b[2] == 1 && b[3] == 3 {
			return "", helloNotTLS, 0 // an SSLv2-compatible hello: it has no extensions, so no SNI
		}
		if major != 3 || n > tlsMaxRecordBody {
			return "", helloNotTLS, 0
		}
		if len(b) < tlsRecordHeaderLen+n {
			return "", helloNeedMore, start - len(b) + tlsRecordHeaderLen + n // BoringSSL reads a whole record before looking inside
		}
		if typ != tlsRecordHandshake || n > tlsMaxPlainRecord {
			return "", helloNotTLS, 0
		}
		if n == 0 {
			if empty++; empty > tlsMaxEmptyRecords {
				return "", helloNotTLS, 0
			}
		} else {
			empty = 0
		}
		msg = append(msg, b[tlsRecordHeaderLen:tlsRecordHeaderLen+n]...)
		b = b[tlsRecordHeaderLen+n:]
		if st := helloMessageState(msg); st != helloNeedMore {
			sni, st := parseHelloMessage(msg, st)
			return sni, st, 0
		}
	}
	return "", helloNeedMore, start + 1
}

// helloMessageState says whether msg holds a whole ClientHello handshake message yet.
func helloMessageState(msg []byte) helloState {
	if len(msg) < 4 {
		return helloNeedMore
	}
	if msg[0] != 1 { // client_hello
		return helloNotTLS
	}
	n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if n > tlsMaxHelloMessage {
		return helloNotTLS
	}
	if len(msg) < 4+n {
		return helloNeedMore
	}
	return helloComplete
}

func parseHelloMessage(msg []byte, st helloState) (string, helloState) {
	if st != helloComplete {
		return "", st
	}
	n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	sni, ok := helloServerName(cursor(msg[4 : 4+n]))
	if !ok {
		return "", helloNotTLS
	}
	return sni, helloComplete
}

// helloServerName parses a ClientHello body as BoringSSL's ssl_client_hello_init and
// extract_sni do: a structural error or a bad server_name extension fails the handshake,
// which the inspector takes as "not TLS".
func helloServerName(c cursor) (string, bool) {
	var sessionID, suites, compression, exts cursor
	if !c.skip(2+32) || !c.prefixed(1, &sessionID) || len(sessionID) > 32 ||
		!c.prefixed(2, &suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!c.prefixed(1, &compression) || len(compression) < 1 {
		return "", false
	}
	if len(c) == 0 {
		return "", true // no extensions
	}
	if !c.prefixed(2, &exts) || len(c) != 0 {
		return "", false
	}
	var sniExt cursor
	found := false
	var seen [8]uint16
	seenN := 0
	var seenMore map[uint16]bool
	for len(exts) > 0 {
		var typ uint16
		var body cursor
		if !exts.u16(&typ) || !exts.prefixed(2, &body) {
			return "", false
		}
		// Duplicate extensions are a decode error.
		for _, s := range seen[:seenN] {
			if s == typ {
				return "", false
			}
		}
		if seenMore[typ] {
			return "", false
		}
		if seenN < len(seen) {
			seen[seenN] = typ
			seenN++
		} else {
			if seenMore == nil {
				seenMore = map[uint16]bool{}
			}
			seenMore[typ] = true
		}
		if typ == 0 { // server_name
			sniExt, found = body, true
		}
	}
	if !found {
		return "", true
	}
	// Exactly one name, of type host_name, 1 to 255 bytes, without NUL.
	var list, host cursor
	var nameType uint8
	if !sniExt.prefixed(2, &list) || len(sniExt) != 0 || !list.u8(&nameType) || !list.prefixed(2, &host) || len(list) != 0 {
		return "", false
	}
	if nameType != 0 || len(host) == 0 || len(host) > tlsMaxHostName {
		return "", false
	}
	out := make([]byte, len(host))
	for i, ch := range host {
		if ch == 0 {
			return "", false
		}
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A' // Envoy lower-cases the SNI it matches filter chains with
		}
		out[i] = ch
	}
	return string(out), true
}

// cursor reads big-endian TLS fields, failing rather than reading past its end.
type cursor []byte

func (c *cursor) skip(n int) bool {
	if len(*c) < n {
		return false
	}
	*c = (*c)[n:]
	return true
}

func (c *cursor) u8(v *uint8) bool {
	if len(*c) < 1 {
		return false
	}
	*v = (*c)[0]
	*c = (*c)[1:]
	return true
}

func (c *cursor) u16(v *uint16) bool {
	if len(*c) < 2 {
		return false
	}
	*v = uint16((*c)[0])<<8 | uint16((*c)[1])
	*c = (*c)[2:]
	return true
}

// prefixed reads a field whose length precedes it in lenBytes (1 or 2) bytes.
func (c *cursor) prefixed(lenBytes int, out *cursor) bool {
	if len(*c) < lenBytes {
		return false
	}
	n := int((*c)[0])
	if lenBytes == 2 {
		n = n<<8 | int((*c)[1])
	}
	if len(*c) < lenBytes+n {
		return false
	}
	*out = (*c)[lenBytes : lenBytes+n]
	*c = (*c)[lenBytes+n:]
	return true
}
