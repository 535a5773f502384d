package schema

import (
	"strings"
	"testing"
)

// TestProxyHeadersSettings: Istio's proxyHeaders are read from signalbox.yaml; the parts a
// signalbox proxy does not do are refused at their field, a misspelt one is an unknown field,
// and metadataExchangeHeaders, which has nothing to change here, is accepted.
func TestProxyHeadersSettings(t *testing.T) {
	load := func(settings string) (*Tree, string) {
		t.Helper()
		tree, findings := Load([]File{{Path: SettingsFile, Data: []byte(settings)}})
		var out []string
		for _, f := range findings {
			out = append(out, f.String())
		}
		return tree, strings.Join(out, "\n")
	}
	tree, got := load("proxyHeaders:\n  server: {value: edge}\n  requestId: {disabled: true}\n  metadataExchangeHeaders: {mode: IN_MESH}\n")
	ph := tree.Settings.ProxyHeaders
	if got != "" || ph.ServerValue() != "edge" || ph.ServerOff() || !ph.RequestIDOff() || ph.AttemptCountOff() || ph.EnvoyDebugHeadersOff() {
		t.Errorf("findings %q, proxyHeaders %+v", got, ph)
	}
	for settings, want := range map[string]string{
		"proxyHeaders:\n  forwardedClientCert: SANITIZE\n":            "signalbox.yaml:2:24: error: proxyHeaders.forwardedClientCert: not supported yet",
		"proxyHeaders:\n  xForwardedPort: {enabled: true}\n":          "signalbox.yaml:2:29: error: proxyHeaders.xForwardedPort.enabled: not supported yet",
		"proxyHeaders:\n  preserveHttp1HeaderCase: true\n":            "signalbox.yaml:2:28: error: proxyHeaders.preserveHttp1HeaderCase: not supported yet",
		"proxyHeaders:\n  requestID: {disabled: true}\n":              "signalbox.yaml:2:3: error: proxyHeaders.requestID: unknown field",
		"proxyHeaders:\n  server: {disabled: yes}\n":                  "signalbox.yaml:2:22: error: proxyHeaders.server.disabled: must be true or false",
		"proxyHeaders:\n  xForwardedHost: {enabled: false}\n":         "",
		"proxyHeaders:\n  forwardedClientCert: UNDEFINED\n":           "",
		"proxyHeaders:\n  setCurrentClientCertDetails: {uri: true}\n": "signalbox.yaml:2:3: error: proxyHeaders.setCurrentClientCertDetails: not supported yet",
	} {
		_, got := load(settings)
		if want == "" && got != "" || !strings.HasPrefix(got, want) {
			t.Errorf("%q: findings %q, want %q", settings, got, want)
		}
	}
}
