package spec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ConfigName is the name of the OCI config inside a bundle.
const ConfigName = "config.json"

// OrigSuffix is appended to ConfigName for the copy of the original config
// that runcage keeps beside the rewritten one.
const OrigSuffix = ".runcage-orig"

// RewrittenSuffix is appended to ConfigName for a copy of the config.json
// runcage wrote. When a bundle is used again after its container is gone,
// it tells runcage whether config.json was edited since (see
// LoadBundleAgain).
const RewrittenSuffix = ".runcage-rewritten"

// ReadFile reads a regular file without following a symlink in its last
// component. It returns the contents and the file's permission bits. It
// refuses a file longer than MaxFileSize (see ReadLimited).
func ReadFile(path string) ([]byte, os.FileMode, error) {
	return ReadLimited(path, MaxFileSize)
}

// WriteFileAtomic replaces path with data so that a reader, or a crash at
// any point, sees either the old contents or the new ones, never a partial
// file. It writes a temporary file in the same directory (created with
// O_EXCL, so it never truncates or follows anything that exists), fsyncs it
// and renames it over path. It never uses os.Create.
//
// It does not fsync the directory. That would make the new name durable
// before WriteFileAtomic returns, which nothing here needs: the files it
// writes (config.json, its -orig copy, container records, caches) describe
// containers that do not survive a reboot, and a rename lost in a crash
// leaves the complete old file, never a mix. The file itself is synced
// before the rename so that a crash cannot leave an empty or partial file
// under the new name. On the disk of the benchmark machine the directory
// fsync cost 0.5 to 6 ms per file, three times per create.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, true)
}

// writeFileAtomic is WriteFileAtomic, with the fsync of the file optional
// for files whose loss or truncation in a power cut is detected and safe.
func writeFileAtomic(path string, data []byte, perm os.FileMode, sync bool) (err error) {
	tmp, err := tempName(path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Chmod(perm); err != nil { // umask may have narrowed it
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if sync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", tmp, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// tempName returns a fresh name in path's directory for a file that is
// renamed over path once complete.
func tempName(path string) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", fmt.Errorf("random temp name: %w", err)
	}
	return filepath.Join(dir, "."+base+".runcage-"+hex.EncodeToString(suffix[:])), nil
}

// Bundle is a loaded bundle directory: its config document and where it
// came from.
type Bundle struct {
	Dir  string
	Doc  *Document[specs.Spec]
	perm os.FileMode
	// loaded is what fstat said of config.json when Doc was read from it
	// (nil if Doc came from elsewhere): Save keeps that very file as the
	// original, by a hard link, if it is still unchanged.
	loaded os.FileInfo
	// fromOrig is set when Doc was loaded from the -orig copy: config.json
	// must then be written even if the document did not change.
	fromOrig bool
}

// LoadBundle reads and parses <dir>/config.json.
func LoadBundle(dir string) (*Bundle, error) {
	return loadBundle(dir, ConfigName, "bundle config")
}

// LoadBundleOrig loads a bundle from the config.json.runcage-orig that an
// earlier rewrite kept. Saving it rewrites config.json from that original.
func LoadBundleOrig(dir string) (*Bundle, error) {
	b, err := loadBundle(dir, ConfigName+OrigSuffix, "original config")
	if err != nil {
		return nil, err
	}
	b.fromOrig = true
	return b, nil
}

// loadBundle loads a bundle from the file name in dir; what names the file
// in a read error.
func loadBundle(dir, name, what string) (*Bundle, error) {
	path := filepath.Join(dir, name)
	data, st, err := readLimitedStat(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	doc, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	b := &Bundle{Dir: dir, Doc: doc, perm: st.Mode().Perm()}
	if name == ConfigName {
		b.loaded = st
	}
	return b, nil
}

// Spec returns the typed view of the bundle's config.
func (b *Bundle) Spec() *specs.Spec { return b.Doc.Value }

// Save writes the rewritten config atomically when it differs from what was
// loaded, after first saving the loaded bytes as config.json.runcage-orig
// (also atomically: see keepOriginal). It reports whether it wrote anything. A config that is
// already in its rewritten form is left alone, together with its -orig copy,
// so that running create twice on one bundle keeps the true original.
func (b *Bundle) Save() (bool, error) {
	path := filepath.Join(b.Dir, ConfigName)
	out, err := b.Doc.Marshal()
	if err != nil {
		return false, err
	}
	if !b.fromOrig {
		if bytes.Equal(out, b.Doc.Original()) {
			return false, nil
		}
		if err := b.keepOriginal(path); err != nil {
			return false, fmt.Errorf("keep original %s: %w", ConfigName, err)
		}
	}
	// The copy of what is about to be written comes first: a crash before
	// config.json is replaced leaves config.json original, and a copy that
	// does not match config.json is never used as proof of anything. So
	// it needs no fsync: a copy lost or truncated in a power cut differs
	// from config.json, and at worst a later re-use of the bundle is
	// refused with a message, never run with edits dropped.
	if err := writeFileAtomic(path+RewrittenSuffix, out, b.perm, false); err != nil {
		return false, fmt.Errorf("keep rewritten %s: %w", ConfigName, err)
	}
	if err := WriteFileAtomic(path, out, b.perm); err != nil {
		return false, fmt.Errorf("write %s: %w", ConfigName, err)
	}
	return true, nil
}

// keepOriginal makes path+OrigSuffix hold the bytes Doc was loaded from,
// replacing it atomically. When Doc was read from config.json (path) and
// that file is unchanged since (same inode, size and modification time,
// and no other name), it keeps that very file by a hard link under a
// temporary name renamed over -orig: no copy of the data and no fsync, and
// config.json exists at every moment (a crash leaves the original under
// both names, or config.json original). Save then replaces config.json by
// a rename, so the original inode lives on only as -orig and never changes
// again. Otherwise (a file with other links, which another writer could
// change in place, a file changed since it was read, a filesystem without
// hard links, or a Doc that came from elsewhere) it writes the bytes with
// WriteFileAtomic, as a copy.
func (b *Bundle) keepOriginal(path string) error {
	orig := path + OrigSuffix
	if b.loaded != nil && b.linkOriginal(path, orig) {
		return nil
	}
	return WriteFileAtomic(orig, b.Doc.Original(), b.perm)
}

// linkOriginal is keepOriginal's hard link; it reports whether orig now
// is the file Doc was read from.
func (b *Bundle) linkOriginal(path, orig string) bool {
	was, ok := b.loaded.Sys().(*syscall.Stat_t)
	if !ok || was.Nlink != 1 {
		return false
	}
	tmp, err := tempName(orig)
	if err != nil {
		return false
	}
	if err := unix.Linkat(unix.AT_FDCWD, path, unix.AT_FDCWD, tmp, 0); err != nil {
		return false
	}
	var now unix.Stat_t
	if err := unix.Lstat(tmp, &now); err != nil || now.Dev != was.Dev || now.Ino != was.Ino ||
		now.Size != was.Size || now.Mtim.Sec != was.Mtim.Sec || now.Mtim.Nsec != was.Mtim.Nsec || now.Nlink != 2 ||
		int64(len(b.Doc.Original())) != now.Size {
		_ = os.Remove(tmp)
		return false
	}
	if err := os.Rename(tmp, orig); err != nil {
		_ = os.Remove(tmp)
		return false
	}
	return true
}

// LoadBundleAgain loads a bundle whose config.json runcage rewrote for a
// container that no longer exists, so that it can be hardened afresh: from
// config.json.runcage-orig, plus every edit made to config.json since
// runcage wrote it. Those edits are found by comparing config.json with
// config.json.runcage-rewritten and applied to the original as a JSON merge
// patch (RFC 7386). Without that copy, or when it cannot be read, edits
// cannot be told apart from runcage's own changes, and the bundle is
// refused rather than run with the edits silently dropped.
//
// cur is the bundle as loaded from config.json; its bytes are compared, not
// read again.
func LoadBundleAgain(cur *Bundle) (*Bundle, error) {
	dir := cur.Dir
	path := filepath.Join(dir, ConfigName)
	wrote, _, err := ReadFile(path + RewrittenSuffix)
	if err != nil {
		return nil, fmt.Errorf("config.json was rewritten by runcage for an earlier container, and its copy of what it wrote is unreadable (%w): restore %s as config.json", err, ConfigName+OrigSuffix)
	}
	b, err := LoadBundleOrig(dir)
	if err != nil || bytes.Equal(cur.Doc.Original(), wrote) {
		return b, err
	}
	patch, err := mergePatchBetween(wrote, cur.Doc.Original())
	if err != nil {
		return nil, fmt.Errorf("find the edits made to config.json since runcage rewrote it: %w", err)
	}
	edited, err := applyMergePatch(b.Doc.Original(), patch)
	if err != nil {
		return nil, fmt.Errorf("apply the edits made to config.json to %s: %w", ConfigName+OrigSuffix, err)
	}
	doc, err := Parse(edited)
	if err != nil {
		return nil, fmt.Errorf("config.json edited since runcage rewrote it: %w", err)
	}
	// Saved like a fresh bundle: the edited original is kept as -orig.
	return &Bundle{Dir: dir, Doc: doc, perm: b.perm}, nil
}

// ProcessFile is a loaded `runc exec --process` file.
type ProcessFile struct {
	Path string
	Doc  *Document[specs.Process]
	perm os.FileMode
}

// LoadProcess reads and parses an exec process file.
func LoadProcess(path string) (*ProcessFile, error) {
	data, perm, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read process file: %w", err)
	}
	doc, err := ParseAs[specs.Process](data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return &ProcessFile{Path: path, Doc: doc, perm: perm}, nil
}

// Save replaces the process file atomically when it changed. Unlike
// Bundle.Save it keeps no -orig copy: the caller (a container engine)
// deletes its process file after exec, and a copy would be left behind.
func (p *ProcessFile) Save() (bool, error) {
	out, err := p.Doc.Marshal()
	if err != nil {
		return false, err
	}
	if bytes.Equal(out, p.Doc.Original()) {
		return false, nil
	}
	if err := WriteFileAtomic(p.Path, out, p.perm); err != nil {
		return false, fmt.Errorf("write %s: %w", filepath.Base(p.Path), err)
	}
	return true, nil
}
