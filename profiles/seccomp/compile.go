package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrSeccompNotEnabled is returned by Compile in a binary built without cgo
// or without the seccomp build tag, where libseccomp is not linked in.
var ErrSeccompNotEnabled = errors.New("seccomp: built without libseccomp (needs cgo and the seccomp build tag)")

// maxInsns is the largest BPF program the kernel loads (BPF_MAXINSNS).
const maxInsns = 4096

// CompileCached is Compile with a cache of filters known to compile: a
// filter whose canonical JSON (with the libseccomp version) has compiled
// before, as recorded by an empty file in cacheDir, is not compiled again.
// Compiling runcage's default filter costs tens of milliseconds, and
// Tighten's output is deterministic, so most creates hit the cache. The
// cache only skips a proof: the delegate compiles the filter itself and
// fails the create if it cannot. cacheDir must be writable only by root.
// An unusable cache is ignored (the filter is compiled).
func CompileCached(f *specs.LinuxSeccomp, cacheDir string) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode filter: %w", err)
	}
	sum := sha256.Sum256(append(data, []byte(libVersion())...))
	mark := filepath.Join(cacheDir, hex.EncodeToString(sum[:]))
	if _, err := os.Stat(mark); err == nil {
		return nil
	}
	if err := Compile(f); err != nil {
		return err
	}
	if err := os.MkdirAll(cacheDir, 0o700); err == nil {
		if fh, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			_ = fh.Close()
		}
	}
	return nil
}
