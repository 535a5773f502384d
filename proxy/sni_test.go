package proxy

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// The ClientHello SNI parser (sni.go) against real ClientHellos from crypto/tls clients,
// whole, cut short, split into one-byte records, and broken in the ways BoringSSL refuses.

// captureClientHello returns the first TLS record a crypto/tls client sends: its ClientHello.
func captureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	go func() {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		tls.Client(c, cfg).Handshake() // fails when the capturing side closes
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	hdr := make([]byte, tlsRecordHeaderLen)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// oneByteRecords re-frames a TLS record stream's handshake bytes into records of one byte
// each, which a TLS server must reassemble.
func oneByteRecords(records []byte) []byte {
	var out []byte
	for len(records) >= tlsRecordHeaderLen {
		n := int(records[3])<<8 | int(records[4])
		body := records[tlsRecordHeaderLen : tlsRecordHeaderLen+n]
		for _, b := range body {
			out = append(out, records[0], records[1], records[2], 0, 1, b)
		}
		records = records[tlsRecordHeaderLen+n:]
	}
	return out
}

func capturedHellos(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"a.example.com":   captureClientHello(t, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true}),
		"mixed.case.test": captureClientHello(t, &tls.Config{ServerName: "Mixed.CASE.test", InsecureSkipVerify: true}),
		"tls12.example":   captureClientHello(t, &tls.Config{ServerName: "tls12.example", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}),
		"":                captureClientHello(t, &tls.Config{InsecureSkipVerify: true}),
	}
}

func TestSNIParseRealClientHellos(t *testing.T) {
	for want, hello := range capturedHellos(t) {
		if sni, st := parseClientHelloSNI(hello); st != helloComplete || sni != want {
			t.Errorf("%q: got %q, %v; want it complete", want, sni, st)
		}
		// Bytes after the ClientHello (the client's next flight) change nothing.
		if sni, st := parseClientHelloSNI(append(bytes.Clone(hello), 0x14, 3, 3, 0, 1, 1)); st != helloComplete || sni != want {
			t.Errorf("%q with more bytes: got %q, %v", want, sni, st)
		}
		for i := range len(hello) {
			if _, st := parseClientHelloSNI(hello[:i]); st != helloNeedMore {
				t.Fatalf("%q cut at %d of %d: %v, want needMore", want, i, len(hello), st)
			}
		}
		split := oneByteRecords(hello)
		if sni, st := parseClientHelloSNI(split); st != helloComplete || sni != want {
			t.Errorf("%q in one-byte records: got %q, %v", want, sni, st)
		}
		if _, st := parseClientHelloSNI(split[:len(split)-1]); st != helloNeedMore {
			t.Errorf("%q in one-byte records, short of one byte: %v", want, st)
		}
	}
}

// helloWithSNIExtension builds a minimal ClientHello record whose server_name extension
// body is ext.
func helloWithSNIExtension(ext []byte, more ...[]byte) []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // one cipher suite
	body = append(body, 1, 0)                // null compression
	exts := append([]byte{0, 0, byte(len(ext) >> 8), byte(len(ext))}, ext...)
	for _, m := range more {
		exts = append(exts, m...)
	}
	body = append(body, byte(len(exts)>>8), byte(len(exts)))
	body = append(body, exts...)
	msg := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

func sniExt(names ...string) []byte {
	var list []byte
	for _, n := range names {
		list = append(list, 0, byte(len(n)>>8), byte(len(n)))
		list = append(list, n...)
	}
	return append([]byte{byte(len(list) >> 8), byte(len(list))}, list...)
}

func TestSNIParseRejects(t *testing.T) {
	if sni, st := parseClientHelloSNI(helloWithSNIExtension(sniExt("ok.example"))); st != helloComplete || sni != "ok.example" {
		t.Fatalf("the well-formed hello: %q, %v", sni, st)
	}
	for name, tc := range map[string]struct {
		b    []byte
		want helloState
	}{
		"empty":                 {nil, helloNeedMore},
		"four bytes of a GET":   {[]byte("GET "), helloNeedMore},
		"HTTP request":          {[]byte("GET / HTTP/1.1\r\n"), helloNotTLS},
		"application data":      {[]byte{23, 3, 3, 0, 1, 0}, helloNotTLS},
		"record version 2":      {[]byte{22, 2, 0, 0, 1, 1}, helloNotTLS},
		"record over 2^14+2048": {[]byte{22, 3, 1, 0x48, 0x01}, helloNotTLS},
		"plaintext over 2^14":   {append([]byte{22, 3, 1, 0x40, 0x01}, make([]byte, 0x4001)...), helloNotTLS},
		"server hello":          {[]byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, helloNotTLS},
		"message over 16 KiB":   {[]byte{22, 3, 3, 0, 4, 1, 0, 0x40, 0x01}, helloNotTLS},
		"SSLv2 hello":           {[]byte{0x80, 0x2e, 1, 3, 1}, helloNotTLS},
		"two names":             {helloWithSNIExtension(sniExt("a.example", "b.example")), helloNotTLS},
		"empty name":            {helloWithSNIExtension(sniExt("")), helloNotTLS},
		"name with NUL":         {helloWithSNIExtension(sniExt("a\x00b")), helloNotTLS},
		"name of 256 bytes":     {helloWithSNIExtension(sniExt(strings.Repeat("a", 256))), helloNotTLS},
		"duplicate extension":   {helloWithSNIExtension(sniExt("a.example"), []byte{0, 0, 0, 0}), helloNotTLS},
		"trailing list bytes":   {helloWithSNIExtension(append(sniExt("a.example"), 9)), helloNotTLS},
		"33 empty records":      {bytes.Repeat([]byte{22, 3, 1, 0, 0}, 33), helloNotTLS},
		"32 empty records":      {bytes.Repeat([]byte{22, 3, 1, 0, 0}, 32), helloNeedMore},
	} {
		if sni, st := parseClientHelloSNI(tc.b); st != tc.want || sni != "" {
			t.Errorf("%s: got %q, %v; want %v", name, sni, st, tc.want)
		}
	}
}

// FuzzClientHelloSNI: whatever the bytes, the parser does not panic, a server name it
// returns is lower-case and at most 255 bytes, and once it has decided, more bytes never
// change the answer (the inspector stops reading there).
func FuzzClientHelloSNI(f *testing.F) {
	for _, hello := range capturedHellos(f) {
		f.Add(hello)
		f.Add(oneByteRecords(hello))
	}
	f.Add(helloWithSNIExtension(sniExt("a.example")))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sni, st := parseClientHelloSNI(b)
		if st != helloComplete && sni != "" {
			t.Fatalf("state %v with server name %q", st, sni)
		}
		if len(sni) > tlsMaxHostName || asciiLower(sni) != sni {
			t.Fatalf("server name %q", sni)
		}
		if st == helloNeedMore {
			return
		}
		for _, more := range [][]byte{{0}, {22, 3, 1, 0, 1, 1}, bytes.Repeat([]byte{0xff}, 64)} {
			if sni2, st2 := parseClientHelloSNI(append(bytes.Clone(b), more...)); sni2 != sni || st2 != st {
				t.Fatalf("more bytes changed %q, %v into %q, %v", sni, st, sni2, st2)
			}
		}
	})
}
