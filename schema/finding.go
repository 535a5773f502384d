package schema

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Pos is a position in a policy file. File is relative to the policy root and slash-separated.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"column"`
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity orders findings; only SeverityError blocks compilation.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one problem in the policy tree, positioned at the offending YAML field.
type Finding struct {
	Pos       Pos      `json:"pos"`
	Severity  Severity `json:"severity"`
	Code      string   `json:"code,omitempty"`
	Kind      string   `json:"kind,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name,omitempty"`
	Path      string   `json:"path,omitempty"` // field path inside the document, e.g. spec.http[0].route[1].weight
	Message   string   `json:"message"`
}

// String renders the finding the way the CLI prints it:
// FILE:LINE:COL: SEVERITY: [CODE: ]KIND NAMESPACE/NAME: MESSAGE
func (f Finding) String() string {
	s := f.Pos.String() + ": " + string(f.Severity) + ": "
	if f.Code != "" {
		s += f.Code + ": "
	}
	if f.Kind != "" {
		s += f.Kind + " " + f.Namespace + "/" + f.Name + ": "
	}
	return s + f.Message
}

// HasErrors reports whether any finding is of error severity.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Relocate returns the findings with their file paths joined under dir (slash-separated), so
// that positions read from a policy directory point at files from where the user stands or
// from the repository root. Positions quoted inside a message ("first defined at a.yaml:3:1")
// move with them, so every path the user reads is one they can open. dir "" or "." leaves them
// as they are.
func Relocate(findings []Finding, dir string) []Finding {
	dir = path.Clean(strings.ReplaceAll(dir, "\\", "/"))
	out := make([]Finding, len(findings))
	for i, f := range findings {
		if dir != "." && dir != "" {
			if f.Pos.File != "" {
				f.Pos.File = path.Join(dir, f.Pos.File)
			}
			f.Message = quotedPos.ReplaceAllStringFunc(f.Message, func(m string) string {
				sub := quotedPos.FindStringSubmatch(m)
				return sub[1] + path.Join(dir, sub[2]) + sub[3]
			})
		}
		out[i] = f
	}
	return out
}

// quotedPos finds a policy-file position quoted in a message: " at FILE:LINE:COL" with a
// relative FILE, as Pos.String() writes it.
var quotedPos = regexp.MustCompile(`( at )([^\s/:][^\s:]*\.(?:ya?ml|cue))(:\d+:\d+)`)

// SortFindings orders findings by file, line, column, then code and message, so every stage
// reports in the same stable order.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col - b.Pos.Col
		}
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}
