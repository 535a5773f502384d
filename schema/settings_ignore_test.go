package schema

import (
	"slices"
	"testing"
)

// TestIgnoreUnknownFromSettings: a tree whose signalbox.yaml sets ignoreUnknown loads as with
// the option, so every command (compile and the publisher take no flag) reads the same tree.
func TestIgnoreUnknownFromSettings(t *testing.T) {
	files := []File{
		{Path: "app.yaml", Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")},
		{Path: "web.yaml", Data: []byte("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web}\nspec: {host: web}\n")},
	}
	if _, findings := Load(files); len(findings) != 1 {
		t.Fatalf("without settings: %v", findings)
	}
	with := append(slices.Clone(files), File{Path: SettingsFile, Data: []byte("ignoreUnknown: true\n")})
	tree, findings := Load(with)
	if len(findings) != 0 || len(tree.Documents) != 1 || !tree.Settings.IgnoreUnknown {
		t.Errorf("with ignoreUnknown: findings %v, %d documents", findings, len(tree.Documents))
	}
	off := append(slices.Clone(files), File{Path: SettingsFile, Data: []byte("ignoreUnknown: false\n")})
	if _, findings := Load(off); len(findings) != 1 {
		t.Errorf("with ignoreUnknown false: %v", findings)
	}
	bad := append(slices.Clone(files), File{Path: SettingsFile, Data: []byte("ignoreUnknown: yes please\n")})
	if _, findings := Load(bad); len(findings) != 2 {
		t.Errorf("with an invalid setting: %v", findings)
	}
}
