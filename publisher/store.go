package publisher

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/signalbox/signalbox/compiler"
)

// store is the on-disk history under --state-dir:
//
//	DIR/snapshots/VERSION.snap   every snapshot published, in the compiler's file format;
//	                             the name is its content digest, so a version is stored once
//	DIR/history.jsonl            one HistoryEntry per publish, oldest first, appended
//
// A snapshot file is written (to a temporary name, then renamed) before its index line is
// appended, so an index line never names a snapshot that is missing. A torn last line (a
// crash mid-append) is skipped on load.
type store struct{ dir string }

const indexFile = "history.jsonl"

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return &store{dir: dir}, nil
}

func (st *store) snapshotPath(version string) string {
	return filepath.Join(st.dir, "snapshots", version+".snap")
}

// record stores s (if this version is new) and appends its publish to the index.
func (st *store) record(s *compiler.Snapshot, e HistoryEntry) error {
	path := st.snapshotPath(s.Version)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		b, err := s.Marshal()
		if err != nil {
			return err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(st.dir, indexFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// load reads the index and the snapshots it names into a history.
func (st *store) load() (*history, error) {
	h := newHistory()
	b, err := os.ReadFile(filepath.Join(st.dir, indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e HistoryEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Version == "" {
			continue // a torn append
		}
		s, ok := h.byVersion[e.Version]
		if !ok {
			if s, err = compiler.ReadFile(st.snapshotPath(e.Version)); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", filepath.Join(st.dir, indexFile), line, err)
			}
		}
		s.Commit = e.Commit
		h.add(s, e)
	}
	return h, sc.Err()
}

// latest is the last snapshot published, with its commit, or nil.
func (h *history) latest() *compiler.Snapshot {
	if len(h.log) == 0 {
		return nil
	}
	e := h.log[len(h.log)-1]
	s := *h.byVersion[e.Version]
	s.Commit = e.Commit
	return &s
}
