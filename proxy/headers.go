package proxy

import (
	"net/http"
	"net/textproto"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// headerOps is one level's request_headers_to_add/remove (or response_…): removals first,
// then additions, as Envoy's HeaderParser evaluates them.
type headerOps struct {
	remove []string // canonical keys
	add    []headerAdd
}

type appendAction uint8

const (
	appendIfExistsOrAdd appendAction = iota
	overwriteIfExistsOrAdd
	addIfAbsent
	overwriteIfExists
)

type headerAdd struct {
	key       string // canonical
	value     []string
	action    appendAction
	keepEmpty bool
}

func (o *headerOps) empty() bool { return o == nil || (len(o.remove) == 0 && len(o.add) == 0) }

// decodeHeaderOps decodes one level's additions and removals; adds and removes are the field
// names at that level (request_headers_to_add / request_headers_to_remove or the response ones).
func decodeHeaderOps(p fieldPath, addName string, adds []*core.HeaderValueOption, removeName string, removes []string) (headerOps, error) {
	var ops headerOps
	for i, name := range removes {
		if err := modifiableHeader(name); err != nil {
			return ops, p.field(removeName).index(i).errorf("%v", err)
		}
		ops.remove = append(ops.remove, textproto.CanonicalMIMEHeaderKey(name))
	}
	for i, hv := range adds {
		hp := p.field(addName).index(i)
		if err := onlyFields(hp, hv, "header", "append", "append_action", "keep_empty_value"); err != nil {
			return ops, err
		}
		h := hv.GetHeader()
		if err := onlyFields(hp.field("header"), h, "key", "value", "raw_value"); err != nil {
			return ops, err
		}
		if err := modifiableHeader(h.GetKey()); err != nil {
			return ops, hp.field("header").field("key").errorf("%v", err)
		}
		v := h.GetValue()
		if len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		v, err := literalHeaderValue(v)
		if err != nil {
			return ops, hp.field("header").field("value").errorf("%v", err)
		}
		a := headerAdd{key: textproto.CanonicalMIMEHeaderKey(h.GetKey()), value: []string{v}, keepEmpty: hv.GetKeepEmptyValue()}
		switch hv.GetAppendAction() {
		case core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			a.action = appendIfExistsOrAdd
			if ap := hv.GetAppend(); ap != nil && !ap.GetValue() {
				a.action = overwriteIfExistsOrAdd // the deprecated append=false
			}
		case core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			a.action = overwriteIfExistsOrAdd
		case core.HeaderValueOption_ADD_IF_ABSENT:
			a.action = addIfAbsent
		case core.HeaderValueOption_OVERWRITE_IF_EXISTS:
			a.action = overwriteIfExists
		default:
			return ops, hp.field("append_action").errorf("%s is not supported", hv.GetAppendAction())
		}
		if hv.GetAppend() != nil && hv.GetAppendAction() != core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			return ops, hp.errorf("append and append_action are mutually exclusive")
		}
		ops.add = append(ops.add, a)
	}
	return ops, nil
}

// modifiableHeader refuses what Envoy refuses: pseudo-headers and Host cannot be edited by
// header operations (host_rewrite_literal rewrites the authority).
func modifiableHeader(name string) error {
	if name == "" {
		return errorString("header name is required")
	}
	if strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
		return errorString("':'-prefixed or host headers may not be modified")
	}
	return nil
}

// literalHeaderValue unescapes "%%"; any other %COMMAND% is Envoy's substitution language,
// which this proxy does not evaluate, so it is refused rather than sent verbatim.
func literalHeaderValue(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		return "", errorString("header value substitution (%...%) is not supported; write %% for a literal %")
	}
	return b.String(), nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// apply edits h. The value slices are shared with the configuration and never mutated:
// appending copies.
func (o *headerOps) apply(h http.Header) {
	for _, k := range o.remove {
		delete(h, k)
	}
	for i := range o.add {
		a := &o.add[i]
		if a.value[0] == "" && !a.keepEmpty {
			continue
		}
		old, exists := h[a.key]
		switch a.action {
		case appendIfExistsOrAdd:
			if exists {
				h[a.key] = append(old[:len(old):len(old)], a.value[0])
			} else {
				h[a.key] = a.value
			}
		case overwriteIfExistsOrAdd:
			h[a.key] = a.value
		case addIfAbsent:
			if !exists {
				h[a.key] = a.value
			}
		case overwriteIfExists:
			if exists {
				h[a.key] = a.value
			}
		}
	}
}
