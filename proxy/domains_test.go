package proxy

import "testing"

func TestDomainSelection(t *testing.T) {
	var b domainIndexBuilder
	for i, ds := range [][]string{
		{"exact.example.com", "exact.example.com:8080"}, // 0
		{"*.example.com"},     // 1
		{"*.b.example.com"},   // 2
		{"api.*"},             // 3
		{"api.internal.*"},    // 4
		{"*"},                 // 5
		{"[::1]", "10.0.0.1"}, // 6
	} {
		for _, d := range ds {
			if err := b.add(d, i, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx := b.build()
	for host, want := range map[string]int{
		"exact.example.com":      0,
		"EXACT.Example.com":      0,
		"exact.example.com:8080": 0,
		"exact.example.com:9090": 0, // exact without the port beats a wildcard
		"x.example.com":          1,
		"x.b.example.com":        2, // longest suffix
		"x.b.example.com:80":     2,
		"api.foo":                3,
		"api.internal.foo":       4, // longest prefix
		"example.com":            5, // "*.example.com" needs at least one character for "*"
		"other":                  5,
		"[::1]:8080":             6,
		"10.0.0.1:80":            6,
		"::1":                    5, // a bare IPv6 address has no port to strip
	} {
		if got := idx.find(host); got != want {
			t.Errorf("find(%q) = %d, want %d", host, got, want)
		}
	}

	var none domainIndexBuilder
	none.add("only", 0, "")
	if got := none.build(); got.find("other") != -1 {
		t.Error("no '*' virtual host: an unknown host must find nothing")
	}
	for _, bad := range []string{"a*b", "*a*", ""} {
		var b domainIndexBuilder
		if err := b.add(bad, 0, ""); err == nil {
			t.Errorf("domain %q accepted", bad)
		}
	}
	var dup domainIndexBuilder
	dup.add("a", 0, "one")
	if err := dup.add("A", 1, "two"); err == nil {
		t.Error("a domain in two virtual hosts accepted")
	}
}
