package source

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// MaxFileSize bounds one policy file; a larger file is refused (see RefusedError), never read.
const MaxFileSize = 8 << 20

// IsPolicyFile reports whether a path (slash-separated) belongs to the policy tree.
func IsPolicyFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".cue":
		return true
	}
	return false
}

// ReadDir reads the policy files under dir. Hidden directories (.git, .github) are skipped.
// Symbolic links under dir are not followed and submodules (directories with a .git of their
// own) are not read: each is refused. When some files are refused it
// returns the files it read and a *RefusedError naming the others; any other error ends the
// read. dir itself may be a link, as it is named by the caller.
func ReadDir(dir string) ([]schema.File, error) {
	if st, err := os.Lstat(dir); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, err
		}
		dir = resolved
	}
	var files []schema.File
	var refused refusals
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// A checked-out submodule (or a nested repository) has a .git of its own; its git
			// tree holds it as a submodule, refused there, so it is refused here too.
			if _, err := os.Lstat(filepath.Join(p, ".git")); p != dir && err == nil {
				refused.submodule(rel)
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			// Whatever its name: a link to a directory would bring policy files too.
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			refused.symlink(rel, target)
			return nil
		case !IsPolicyFile(p):
			return nil
		case !d.Type().IsRegular():
			refused.irregular(rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxFileSize {
			refused.tooLarge(rel, info.Size())
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, schema.File{Path: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, refused.err()
}
