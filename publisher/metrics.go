package publisher

import (
	"fmt"
	"io"
	"strings"
)

// writeMetrics renders the Prometheus text exposition format (version 0.0.4).
func (p *Publisher) writeMetrics(w io.Writer) {
	p.mu.Lock()
	connected, inSync := 0, 0
	version, commit := "", p.commit
	if p.current != nil {
		version = p.current.Version
	}
	for _, n := range p.nodes {
		if n.streams > 0 {
			connected++
			if version != "" && p.versionOfLocked(n) == version {
				inSync++
			}
		}
	}
	c := p.counters
	p.mu.Unlock()

	metric := func(name, typ, help string, value int) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, value)
	}
	metric("signalbox_connected_proxies", "gauge", "Proxies with an open xDS stream.", connected)
	metric("signalbox_proxies_in_sync", "gauge", "Connected proxies that have applied the current version.", inSync)
	metric("signalbox_snapshots_published_total", "counter", "Snapshots published (a commit that leaves the version unchanged is not a publish).", c.published)
	metric("signalbox_nacks_total", "counter", "Responses rejected by proxies.", c.nacks)
	metric("signalbox_compile_errors_total", "counter", "Commits not published because their tree did not compile.", c.compileErrors)
	metric("signalbox_fetch_errors_total", "counter", "Failed fetches of the followed branch.", c.fetchErrors)
	if version != "" {
		fmt.Fprintf(w, "# HELP signalbox_current_version_info The version serving and its commit.\n"+
			"# TYPE signalbox_current_version_info gauge\n"+
			"signalbox_current_version_info{version=\"%s\",commit=\"%s\"} 1\n", escapeLabel(version), escapeLabel(commit))
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
