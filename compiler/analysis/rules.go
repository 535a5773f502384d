package analysis

import "github.com/signalbox/signalbox/schema"

// Rule is one analysis check: its stable code, a short name, its severity and a one-line
// meaning. Codes never change meaning once published; a retired check leaves its code unused.
type Rule struct {
	Code     string
	Name     string
	Severity schema.Severity
	Summary  string
}

// The codes, in order. docs/analysis.md documents each under a heading named by its code.
const (
	CodeUndeclaredHost        = "SB0001"
	CodeUndefinedSubset       = "SB0002"
	CodeUnknownGateway        = "SB0003"
	CodeConflictingHost       = "SB0004"
	CodeAfterCatchAll         = "SB0005"
	CodeShadowedMatch         = "SB0006"
	CodeOrphanRule            = "SB0007"
	CodeSelectsNoWorkload     = "SB0008"
	CodeUnusedGateway         = "SB0009"
	CodeEmptySubset           = "SB0010"
	CodeUnweightedDestination = "SB0011"
	CodeHostNotOnGateway      = "SB0012"
	CodeMergedAfterCatchAll   = "SB0013"
	docsURL                   = "https://github.com/signalbox/signalbox/blob/main/docs/analysis.md"
	errorS, warnS             = schema.SeverityError, schema.SeverityWarning
)

var rules = []Rule{
	{CodeUndeclaredHost, "undeclared-destination-host", errorS, "destination host is not declared by any ServiceEntry or Service"},
	{CodeUndefinedSubset, "undefined-subset", errorS, "destination subset is not defined by the host's DestinationRule"},
	{CodeUnknownGateway, "unknown-gateway", errorS, "VirtualService is bound to a Gateway that does not exist"},
	{CodeConflictingHost, "conflicting-virtualservice-host", errorS, "two VirtualServices claim the same host on the mesh"},
	{CodeAfterCatchAll, "rule-after-catch-all", warnS, "rule follows a catch-all rule and can never match"},
	{CodeShadowedMatch, "shadowed-match", warnS, "match is entirely covered by an earlier match and can never be taken"},
	{CodeOrphanRule, "destinationrule-undeclared-host", warnS, "DestinationRule is for a host no ServiceEntry or Service declares"},
	{CodeSelectsNoWorkload, "selector-matches-no-workload", warnS, "AuthorizationPolicy or PeerAuthentication selects no workload"},
	{CodeUnusedGateway, "gateway-without-virtualservice", warnS, "Gateway has no VirtualService bound to it"},
	{CodeEmptySubset, "subset-selects-no-endpoint", warnS, "DestinationRule subset selects no endpoint of its service"},
	{CodeUnweightedDestination, "destination-without-weight", warnS, "destination without a weight beside weighted ones receives no traffic"},
	{CodeHostNotOnGateway, "virtualservice-host-not-on-gateway", warnS, "VirtualService host is not among the hosts of a Gateway it is bound to"},
	{CodeMergedAfterCatchAll, "merged-virtualservice-after-catch-all", warnS, "VirtualService merged at a gateway after one whose rule matches every request is never used there"},
}

// Rules returns every analysis rule in code order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// RuleFor returns the rule with this code.
func RuleFor(code string) (Rule, bool) {
	for _, r := range rules {
		if r.Code == code {
			return r, true
		}
	}
	return Rule{}, false
}

// HelpURI is where a code's meaning is documented.
func HelpURI(code string) string {
	if code == "" {
		return docsURL
	}
	return docsURL + "#" + lower(code)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
