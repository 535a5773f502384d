package main

import (
	"testing"

	"github.com/signalbox/signalbox/publisher"
)

// A proxy that refused part of an update runs types of two versions: status says so rather
// than showing no version, as if it ran nothing.
func TestVersionCell(t *testing.T) {
	for _, c := range []struct {
		px   publisher.ProxyStatus
		want string
	}{
		{publisher.ProxyStatus{}, "-"},
		{publisher.ProxyStatus{Version: "0a1b2c3d4e5f", Acked: map[string]string{"clusters": "0a1b2c3d4e5f"}}, "0a1b2c3d4e5f"},
		{publisher.ProxyStatus{Acked: map[string]string{"clusters": "new", "routes": "old"}}, "mixed"},
	} {
		if got := versionCell(c.px); got != c.want {
			t.Errorf("versionCell(%+v) = %q, want %q", c.px, got, c.want)
		}
	}
}
