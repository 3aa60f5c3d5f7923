package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/runtime/spec"
)

// cacheFormat names the layout of a cache entry and of the key; change it
// whenever either changes.
const cacheFormat = "runcage-tighten-1"

// maxCacheEntry bounds what TightenCached reads from one entry: a tightened
// filter is at most a few hundred kilobytes.
const maxCacheEntry = 4 << 20

// maxCacheEntries bounds how many entries the cache keeps. Whoever writes
// bundles chooses their filters, and so how many distinct entries there
// are: past this many, a new entry empties the cache first, so that the
// state directory (a tmpfs, in memory) cannot be filled through it.
const maxCacheEntries = 256

// A cache entry is one file: a header line with the key it was written
// under and the SHA-256 of the rest, then the tightened filter as JSON. The
// checksum tells a truncated, corrupted or misplaced entry from a good one.

// TightenCached returns Tighten(profile, bundle), using a cache of earlier
// results in cacheDir (created 0700 if missing; "" disables the cache).
// Tighten of runcage's default filter against an engine's costs several
// milliseconds of CPU and its result depends only on its inputs, so most
// creates find it cached.
//
// The key is a SHA-256 over the canonical JSON of both inputs, the
// architecture and the identity of the running executable (its build
// information, and the device, inode, size and times of /proc/self/exe), so
// that a runcage built from other code never uses an entry it did not
// write. Whoever writes the bundle controls the input, and so the key, but
// not the cache: only root can write cacheDir. A cache entry is used only
// if the directory and the file are root's and writable by no one else, the
// file is regular (never followed through a symlink), it names the
// expected key, its checksum matches, and the filter it holds decodes and
// is valid. On any doubt TightenCached computes the result again (and
// replaces the entry); it never fails because of the cache. Errors are
// Tighten's, and are not cached. The cache holds at most maxCacheEntries
// entries.
func TightenCached(profile, bundle *specs.LinuxSeccomp, cacheDir string) (*specs.LinuxSeccomp, error) {
	return tightenCached(Source{Filter: profile}, bundle, cacheDir)
}

// Source is the profile's side of a Tighten: either Filter itself, or, so
// that a cache hit need not build it, Build and Key. Key must name
// everything the filter Build returns depends on, other than this build of
// runcage (which the cache key adds): see DefaultKey.
type Source struct {
	Filter *specs.LinuxSeccomp
	Build  func() (*specs.LinuxSeccomp, error)
	Key    string
}

// filter returns the source's filter, building it if need be.
func (src Source) filter() (*specs.LinuxSeccomp, error) {
	if src.Filter != nil || src.Build == nil {
		return src.Filter, nil
	}
	return src.Build()
}

// DefaultKey is a Source key for Default(): the SHA-256 of the built-in
// default.json and the native architectures it is cut to. What a profile
// adds to Default() (socket families, set-id modes) must be added to the
// key by the caller.
func DefaultKey() string { return defaultKey() }

var defaultKey = sync.OnceValue(func() string {
	sum := sha256.Sum256(defaultJSON)
	arches, _ := json.Marshal(NativeArches())
	return "default.json " + hex.EncodeToString(sum[:]) + " native " + string(arches)
})

// tightenCached is TightenCached of a Source.
func tightenCached(src Source, bundle *specs.LinuxSeccomp, cacheDir string) (*specs.LinuxSeccomp, error) {
	var key string
	if cacheDir != "" {
		key, _ = tightenKey(src, bundle)
	}
	var path string
	if key != "" {
		path = filepath.Join(cacheDir, key+".json")
		if f, ok := memo.get(path); ok {
			return f, nil
		}
		if f, ok := readCacheEntry(cacheDir, path, key); ok {
			memo.put(path, f)
			return f, nil
		}
	}
	profile, err := src.filter()
	if err != nil {
		return nil, err
	}
	f, err := Tighten(profile, bundle)
	if err != nil {
		return nil, err
	}
	if key != "" {
		writeCacheEntry(cacheDir, path, key, f)
		memo.put(path, f)
	}
	return f, nil
}

// memo holds, in memory, the entries this process has read (and checked)
// or computed, by their path, so that a long-lived process (the warm
// front, the shim) skips the file, its checks and the decoding on the next
// create with the same key. Entries are copied in and out, so no caller
// shares one. It holds at most maxCacheEntries, and forgets them all when
// full.
var memo = &filterMemo{m: map[string]*specs.LinuxSeccomp{}}

type filterMemo struct {
	mu sync.Mutex
	m  map[string]*specs.LinuxSeccomp
}

func (fm *filterMemo) get(key string) (*specs.LinuxSeccomp, bool) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	f, ok := fm.m[key]
	return clone(f), ok
}

func (fm *filterMemo) put(key string, f *specs.LinuxSeccomp) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if len(fm.m) >= maxCacheEntries {
		clear(fm.m)
	}
	fm.m[key] = clone(f)
}

// tightenKey is the cache key of Tighten(src's filter, bundle), or "" if
// there is none.
func tightenKey(src Source, bundle *specs.LinuxSeccomp) (string, error) {
	// The two forms of the profile's side are told apart by a prefix, so
	// no key of one is a key of the other.
	var p []byte
	switch {
	case src.Filter != nil:
		f, err := json.Marshal(src.Filter)
		if err != nil {
			return "", err
		}
		p = append([]byte("filter "), f...)
	case src.Build != nil && src.Key != "":
		p = []byte("source " + src.Key)
	default:
		return "", nil // nothing names the filter: no cache
	}
	b, err := json.Marshal(bundle)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(cacheFormat), []byte(goruntime.GOARCH), []byte(exeID()), p, b} {
		// Length-prefixed, so no two inputs run together alike.
		h.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		h.Write([]byte{':'})
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// exeID names the build of the running executable (see TightenCached).
var exeID = sync.OnceValue(func() string {
	var id bytes.Buffer
	if bi, ok := debug.ReadBuildInfo(); ok {
		id.WriteString(bi.Main.Path + "@" + bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" || s.Key == "-tags" {
				id.WriteString(" " + s.Key + "=" + s.Value)
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		// Without the executable's identity no entry can be told to be
		// this build's: never share one.
		return "unknown executable " + strconv.Itoa(os.Getpid())
	}
	fmt.Fprintf(&id, " exe=%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	return id.String()
})

// readCacheEntry returns the filter cached at path under key, if the entry
// passes every check TightenCached lists.
func readCacheEntry(dir, path, key string) (*specs.LinuxSeccomp, bool) {
	var dst unix.Stat_t
	if err := unix.Lstat(dir, &dst); err != nil || !privateToRoot(&dst, unix.S_IFDIR) {
		return nil, false
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	fh := os.NewFile(uintptr(fd), path)
	defer fh.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || !privateToRoot(&st, unix.S_IFREG) || st.Size > maxCacheEntry {
		return nil, false
	}
	data := make([]byte, st.Size+1)
	n, err := io.ReadFull(fh, data)
	if err != io.ErrUnexpectedEOF || int64(n) != st.Size {
		return nil, false // changed while read
	}
	header, filter, ok := bytes.Cut(data[:n], []byte{'\n'})
	if !ok {
		return nil, false
	}
	sum := sha256.Sum256(filter)
	if string(header) != key+" "+hex.EncodeToString(sum[:]) {
		return nil, false
	}
	var f specs.LinuxSeccomp
	if err := json.Unmarshal(filter, &f); err != nil || validate(&f) != nil {
		return nil, false
	}
	return &f, true
}

// privateToRoot reports whether st is of the file type typ, owned by root
// and writable by no one else.
func privateToRoot(st *unix.Stat_t, typ uint32) bool {
	return st.Mode&unix.S_IFMT == typ && st.Uid == 0 && st.Mode&0o022 == 0
}

// writeCacheEntry stores f under key, atomically. A failure only costs the
// next create a Tighten.
func writeCacheEntry(dir, path, key string, f *specs.LinuxSeccomp) {
	filter, err := json.Marshal(f)
	if err != nil {
		return
	}
	sum := sha256.Sum256(filter)
	data := append([]byte(key+" "+hex.EncodeToString(sum[:])+"\n"), filter...)
	if err := os.MkdirAll(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return
	}
	if names, err := readDirNames(dir); err == nil && len(names) >= maxCacheEntries {
		for _, n := range names {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	_ = spec.WriteFileAtomic(path, data, 0o600)
}

// readDirNames lists dir's entries, unsorted.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
