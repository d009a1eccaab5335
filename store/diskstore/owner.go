package diskstore

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The directory marker; see the package documentation.
const (
	markerName  = ".cachestack-diskstore"
	markerTitle = "cachestack diskstore"
	dirFormat   = 1 // the layout: fan-out directories of format-1 entry files
	idLen       = 16
	maxMarker   = 4 << 10

	// tempPrefix starts every temporary file a store writes: the
	// directory's id and a dash follow it, then a random suffix.
	tempPrefix = ".csds-tmp-"
	// legacyTemp and legacyProbe start the temporary files of releases
	// before the marker: ".tmp-" or ".tmp-probe-", then decimal digits.
	legacyTemp  = ".tmp-"
	legacyProbe = ".tmp-probe-"
)

// markerText is the content of the marker of a directory with the given
// id.
func markerText(id string) string {
	return markerTitle + "\n" +
		"format " + strconv.Itoa(dirFormat) + "\n" +
		"id " + id + "\n" +
		"# This directory is a cache kept by github.com/cachestack/cachestack/store/diskstore.\n" +
		"# Its files are written and removed by the cache; keep nothing else here.\n"
}

// parseMarker returns the id a marker holds, or an error saying why it is
// not a marker this version can use.
func parseMarker(b []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 || lines[0] != markerTitle {
		return "", errors.New("it is not a diskstore marker")
	}
	f, ok := strings.CutPrefix(lines[1], "format ")
	n, err := strconv.Atoi(f)
	if !ok || err != nil || n < 1 || f != strconv.Itoa(n) {
		return "", fmt.Errorf("its format line %q is malformed", lines[1])
	}
	if n != dirFormat {
		return "", fmt.Errorf("it was made by a newer diskstore (directory format %d; this one reads format %d)", n, dirFormat)
	}
	id, ok := strings.CutPrefix(lines[2], "id ")
	if !ok || len(id) != idLen || !isLowerHex(id) {
		return "", fmt.Errorf("its id line %q is malformed", lines[2])
	}
	return id, nil
}

// claim makes sure the store's directory is its own and sets s.id: it
// reads the marker, or marks a directory that is empty or holds only what
// an earlier release of this package wrote. Two stores claiming the same
// directory at once agree on one marker.
func (s *Store) claim() error {
	for range 3 {
		id, err := s.readMarker()
		if err == nil {
			s.setID(id)
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		switch err := s.checkAdoptable(); {
		case errors.Is(err, errMarked):
			continue // another store marked it since: read its marker
		case err != nil:
			return err
		}
		var raw [idLen / 2]byte
		_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
		id = hex.EncodeToString(raw[:])
		switch err := s.writeMarker(id); {
		case err == nil:
			s.setID(id)
			return nil
		case errors.Is(err, fs.ErrExist):
			continue // another store marked it first: read its marker
		default:
			return fmt.Errorf("diskstore: cache directory %q is not writable: %w", s.dir, err)
		}
	}
	return fmt.Errorf("diskstore: cache directory %q: its marker %s keeps changing", s.dir, markerName)
}

func (s *Store) setID(id string) {
	s.id = id
	s.tempPre = tempPrefix + id + "-"
}

// readMarker reads and parses the directory's marker. It returns an error
// matching fs.ErrNotExist if there is none.
func (s *Store) readMarker() (string, error) {
	path := filepath.Join(s.dir, markerName)
	f, err := openFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("diskstore: cache directory %q: reading its marker: %w", s.dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMarker+1))
	if err != nil {
		return "", fmt.Errorf("diskstore: cache directory %q: reading its marker: %w", s.dir, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || len(b) > maxMarker {
		return "", fmt.Errorf("diskstore: cache directory %q: %s is not a diskstore marker (not a small regular file)", s.dir, markerName)
	}
	id, err := parseMarker(b)
	if err != nil {
		return "", fmt.Errorf("diskstore: cache directory %q: %s cannot be used: %w", s.dir, markerName, err)
	}
	return id, nil
}

// writeMarker writes the marker for id, complete, under a temporary name
// and links it into place, so that another store never reads half a
// marker. It returns an error matching fs.ErrExist if a marker is already
// there.
func (s *Store) writeMarker(id string) error {
	f, err := os.CreateTemp(s.dir, tempPrefix+id+"-marker-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(markerText(id))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, markerName)
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// A file system without hard links: create the marker exclusively.
	m, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = m.WriteString(markerText(id))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkAdoptable returns nil if the directory, which has no marker, may be
// marked: it holds nothing, or only fan-out directories of valid entry
// files and temporary files of a release before the marker (a cache that
// release wrote). Otherwise it returns an error naming a file that is in
// the way. Temporary files starting with tempPrefix are those of another
// store marking the directory right now, and are allowed too.
func (s *Store) checkAdoptable() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("diskstore: cache directory %q: %w", s.dir, err)
	}
	var buf []byte
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == markerName:
			return errMarked
		case strings.HasPrefix(name, tempPrefix),
			isLegacyTempName(name, legacyProbe) && e.Type().IsRegular():
			continue
		case e.IsDir() && len(name) == fanLen && isLowerHex(name):
			fan := filepath.Join(s.dir, name)
			fents, err := os.ReadDir(fan)
			if err != nil {
				return fmt.Errorf("diskstore: cache directory %q: %w", s.dir, err)
			}
			for _, fe := range fents {
				if isLegacyTempName(fe.Name(), legacyTemp) && fe.Type().IsRegular() {
					continue
				}
				path := filepath.Join(fan, fe.Name())
				var class fileClass
				if isEntryName(fe.Name(), name) {
					_, _, _, buf, class = s.readHeader(path, buf)
				}
				if class != valid {
					return s.notOurs(path)
				}
			}
		default:
			return s.notOurs(filepath.Join(s.dir, name))
		}
	}
	return nil
}

// ErrNotCacheDir matches the error New returns for a directory that is
// not empty and is not a diskstore cache: it has no marker, and holds a
// file that diskstore did not write (the error names it).
var ErrNotCacheDir = errors.New("not a diskstore cache")

// errMarked tells claim that a marker appeared while it looked.
var errMarked = errors.New("diskstore: the directory was marked meanwhile")

// notOurs is the error New returns for a directory holding path, a file
// that diskstore did not write.
func (s *Store) notOurs(path string) error {
	return fmt.Errorf("diskstore: cache directory %q (New's dir) is not empty and is %w: "+
		"it holds %q, which diskstore did not write; give New a new or empty directory, or one a diskstore made",
		s.dir, ErrNotCacheDir, path)
}

// isLegacyTempName reports whether name is prefix followed by one or more
// decimal digits, as os.CreateTemp names the temporary files of releases
// before the marker.
func isLegacyTempName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return false
	}
	for i := range len(rest) {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// ownership is what owned found at a path.
type ownership uint8

const (
	absent  ownership = iota // nothing at the path
	notOurs                  // a symbolic link, a directory, or a file without the entry magic
	ours                     // a regular file starting with the entry magic
)

// owned opens the file at path, without following a symbolic link or
// blocking on a FIFO, and reports whether it is an entry file this package
// wrote: a regular file that starts with the entry magic. The FileInfo is
// the opened file's, for ours and for a regular file that is not ours.
func owned(path string) (os.FileInfo, ownership, error) {
	f, err := openFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, absent, nil
		}
		fi, lerr := os.Lstat(path)
		switch {
		case errors.Is(lerr, fs.ErrNotExist):
			return nil, absent, nil
		case lerr == nil && !fi.Mode().IsRegular():
			return nil, notOurs, nil
		}
		return nil, notOurs, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, notOurs, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notOurs, nil
	}
	var b [len(magic)]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, notOurs, err
	}
	if n != len(magic) || string(b[:]) != magic {
		return fi, notOurs, nil
	}
	return fi, ours, nil
}

// ownedTemp reports whether the temporary file at path, named name, is
// one this package wrote: named with the directory's id, or named as a
// release before the marker named them (".tmp-" and digits) and starting
// with as much of the entry magic as it holds, and not empty.
func (s *Store) ownedTemp(path, name string) bool {
	if strings.HasPrefix(name, s.tempPre) {
		return true
	}
	if !isLegacyTempName(name, legacyTemp) {
		return false
	}
	f, err := openFile(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [len(magic)]byte
	n, _ := io.ReadFull(f, b[:])
	return n > 0 && string(b[:n]) == magic[:n]
}
