package compiler

import (
	"github.com/signalbox/signalbox/schema"
)

// checkVirtualServiceExportTo accepts exportTo on the http rules, which are served to each
// proxy by its namespace (--namespace), and refuses it where the proxy's namespace is not
// consulted yet: tcp and tls routes become a gateway's listeners, not its routes.
func (b *builder) checkVirtualServiceExportTo(d *schema.Document, vs *schema.VirtualService) {
	if schema.ExportedTo(d.Namespace, vs.ExportTo) != nil && (len(vs.TCP) > 0 || len(vs.TLS) > 0) {
		b.unsupportedf(d, "spec.exportTo", "tcp and tls routes are served to every gateway proxy whatever its namespace; exportTo narrower than \"*\" applies to http rules only")
	}
}
