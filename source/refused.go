package source

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// Refusal is a file of the policy tree that was found but not read, and why.
type Refusal struct {
	Path   string // relative to the policy root, slash-separated
	Reason string
}

// RefusedError is returned together with the files that were read when some files of the
// policy tree were refused: a file over MaxFileSize, a symbolic link (never followed: a link can
// lead out of the policy directory, and a checkout and its git tree must read as the same
// files), something other than a file. A tree with refusals is incomplete: it
// must not be compiled or published. The files read can still be validated, and Findings
// reports each refusal in the same positioned form as a finding of the schema.
type RefusedError struct {
	Refusals []Refusal
}

// Error lists the refusals, one "PATH: REASON" a line.
func (e *RefusedError) Error() string {
	lines := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		lines[i] = r.Path + ": " + r.Reason
	}
	return strings.Join(lines, "\n")
}

// Findings returns one error finding per refused file, at its first line and column.
func (e *RefusedError) Findings() []schema.Finding {
	fs := make([]schema.Finding, len(e.Refusals))
	for i, r := range e.Refusals {
		fs[i] = schema.Finding{Pos: schema.Pos{File: r.Path, Line: 1, Col: 1}, Severity: schema.SeverityError, Message: r.Reason}
	}
	return fs
}

// refusals collects the refused files of one read.
type refusals []Refusal

func (r *refusals) tooLarge(rel string, size int64) {
	*r = append(*r, TooLarge(rel, size))
}

// TooLarge is the refusal of a file over MaxFileSize: size bytes, or a negative size when it is
// only known to be larger (standard input, read no further than the limit).
func TooLarge(path string, size int64) Refusal {
	over := "over the limit"
	if size >= 0 {
		over = fmt.Sprintf("file is %d bytes, over the limit", size)
	}
	return Refusal{Path: path, Reason: fmt.Sprintf("%s of %d (%d MiB); it is not read", over, MaxFileSize, MaxFileSize>>20)}
}

// symlink refuses a symbolic link, naming its target (as written in the link).
func (r *refusals) symlink(rel, target string) {
	target = filepath.ToSlash(target)
	where := ""
	if to := path.Join(path.Dir(rel), target); path.IsAbs(target) || filepath.IsAbs(target) || to == ".." || strings.HasPrefix(to, "../") {
		where = " (outside the policy directory)"
	}
	*r = append(*r, Refusal{Path: rel, Reason: fmt.Sprintf("a symbolic link to %q%s: links are not followed, "+
		"as one can lead out of the policy tree; put a copy of its target here, or remove it", target, where)})
}

// submodule refuses a git submodule (in a checkout: a directory that is a repository of its
// own). Its files are another repository's: a commit of this one does not fix them, so reading
// them would make a compiled snapshot depend on more than the commit it is named after.
func (r *refusals) submodule(rel string) {
	*r = append(*r, Refusal{Path: rel, Reason: "a git submodule: its files belong to another repository and are not read; " +
		"copy the policies into this repository, or move the submodule out of the policy directory"})
}

// irregular refuses what is neither a file, a directory nor a link (a named pipe, a device).
func (r *refusals) irregular(rel string) {
	*r = append(*r, Refusal{Path: rel, Reason: "not a regular file; it is not read"})
}

// err returns the *RefusedError for the refusals, nil when there are none.
func (r refusals) err() error {
	if len(r) == 0 {
		return nil
	}
	sorted := slices.Clone(r)
	slices.SortFunc(sorted, func(a, b Refusal) int { return strings.Compare(a.Path, b.Path) })
	return &RefusedError{Refusals: sorted}
}
