package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/runcage/runcage/profiles/landlock"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/userns"
	"github.com/runcage/runcage/runtime/spec"
)

// record is what runcage remembers about a container it created, so that
// later exec calls enforce the profile the container really got (which an
// annotation may have tightened) rather than the handler's default.
type record struct {
	Profile      string `json:"profile"`
	Bundle       string `json:"bundle"`
	AppArmor     string `json:"apparmor,omitempty"`
	SelinuxLabel string `json:"selinuxLabel,omitempty"`
	// Userns is what the user-namespace setup did, to undo on delete.
	Userns *userns.Result `json:"userns,omitempty"`
	// Landlock is how the container's exec'd processes are confined: the
	// rules it was created with. Records written before it existed have
	// none; an exec then applies the profile's current rules.
	Landlock *landlock.Exec `json:"landlock,omitempty"`
}

// runcDefaultRoot is runc's --root default for root.
const runcDefaultRoot = "/run/runc"

// validID is runc's own rule for container ids, ^[\w+-.]+$.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return id != ""
}

// recordPath returns where the record of container id under the given runc
// root lives: <state>/containers/<hash of root>/<id>.json. Ids runc would
// reject get no path.
func recordPath(stateDir, root, id string) (string, bool) {
	if id == "" || !validID(id) || id == "." || id == ".." {
		return "", false
	}
	if root == "" {
		root = runcDefaultRoot
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(stateDir, "containers", hex.EncodeToString(sum[:8]), id+".json"), true
}

func saveRecord(stateDir, root, id string, rec *record) error {
	path, ok := recordPath(stateDir, root, id)
	if !ok {
		return nil // runc will refuse the id itself
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// removeRecord of another container under the same root removes the
	// directory once it is empty, which can happen between MkdirAll and
	// the write: make it again and retry.
	for try := 0; ; try++ {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		err := spec.WriteFileAtomic(path, data, 0o600)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 10 {
			return err
		}
	}
}

// loadRecord returns the record of a container, or nil if runcage did not
// create it.
func loadRecord(stateDir, root, id string) (*record, error) {
	path, ok := recordPath(stateDir, root, id)
	if !ok {
		return nil, nil
	}
	data, _, err := spec.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read container record: %w", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("parse container record %s: %w", path, err)
	}
	return &rec, nil
}

// removeRecord forgets a container. It is called before `delete` is handed
// to the delegate.
func removeRecord(stateDir, root, id string) {
	if path, ok := recordPath(stateDir, root, id); ok {
		_ = os.Remove(path)
		_ = os.Remove(filepath.Dir(path)) // only succeeds once it is empty
	}
}

// injectedFor reports whether r records a user namespace runcage injected
// and whose rootfs mount s already uses.
func (r *record) injectedFor(s *specs.Spec) bool {
	return r != nil && r.Userns != nil && r.Userns.Injected && r.Userns.Dir != "" &&
		s.Root != nil && s.Root.Path == filepath.Join(r.Userns.Dir, "rootfs")
}
