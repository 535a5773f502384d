package schema

import (
	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// settingsFile loads signalbox.yaml: one mapping validated against #Settings. Its findings name
// no policy kind.
func (l *loader) settingsFile(f File) {
	n := 0
	l.eachYAMLDocument(f, func(x ast.Expr) {
		if lit, ok := x.(*ast.BasicLit); ok && lit.Kind == token.NULL {
			return
		}
		if _, ok := x.(*ast.BinaryExpr); ok {
			return // empty file
		}
		if n++; n > 1 {
			l.findings = append(l.findings, fileFinding(posAt(f.Path, x.Pos()), "settings: only one document is allowed"))
			return
		}
		st, ok := x.(*ast.StructLit)
		if !ok {
			l.findings = append(l.findings, fileFinding(posAt(f.Path, x.Pos()), "settings: must be a mapping"))
			return
		}
		l.settings(f.Path, st)
	})
}

func (l *loader) settings(file string, st *ast.StructLit) {
	s := newDocState(file, &Document{})
	s.doc.Pos = s.pos(st.Pos())
	ks := l.v.settings
	s.walk(st, ks.shape, "", 0)
	if !s.tooDeep {
		val := l.v.ctx.BuildExpr(st)
		err := val.Err()
		if err == nil {
			err = ks.def.Unify(val).Validate(cue.Concrete(true))
		}
		if err != nil {
			s.reportCUE(err, st, ks.shape, l.v.patterns)
		}
		if len(s.findings) == 0 {
			var set Settings
			if err := val.Decode(&set); err != nil {
				s.report(s.doc.Pos, "", "cannot decode: "+err.Error())
			} else {
				if set.LocalityLbSetting != nil {
					checkLocality(s, "localityLbSetting", set.LocalityLbSetting)
				}
				checkProxyHeaders(s, set.ProxyHeaders)
			}
			if len(s.findings) == 0 {
				if set.SidecarListener == "" {
					set.SidecarListener = DefaultSidecarListener
				}
				if set.TrustDomain == "" {
					set.TrustDomain = DefaultTrustDomain
				}
				l.fileResult.settings = &set
			}
		}
	}
	l.findings = append(l.findings, s.findings...)
}

// checkProxyHeaders refuses the parts of Istio's proxyHeaders a signalbox proxy does not do,
// where they would change something: client certificate details are the gateways' own
// (SANITIZE_SET, as Istio's), and header case, X-Forwarded-Host and X-Forwarded-Port are not
// kept or added. metadataExchangeHeaders is accepted: signalbox adds no metadata-exchange
// headers, so IN_MESH holds already.
func checkProxyHeaders(s *docState, p *ProxyHeaders) {
	if p == nil {
		return
	}
	const why = "not supported yet: a signalbox proxy honours requestId, server, attemptCount and envoyDebugHeaders"
	if p.ForwardedClientCert != "" && p.ForwardedClientCert != "UNDEFINED" {
		s.fail("proxyHeaders.forwardedClientCert", why)
	}
	if len(p.SetCurrentClientCertDetails) > 0 {
		s.fail("proxyHeaders.setCurrentClientCertDetails", why)
	}
	if p.PreserveHTTP1HeaderCase {
		s.fail("proxyHeaders.preserveHttp1HeaderCase", why)
	}
	if p.XForwardedHost != nil && p.XForwardedHost.Enabled {
		s.fail("proxyHeaders.xForwardedHost.enabled", why)
	}
	if p.XForwardedPort != nil && p.XForwardedPort.Enabled {
		s.fail("proxyHeaders.xForwardedPort.enabled", why)
	}
}
