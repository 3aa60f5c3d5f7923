package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runcage/runcage/runtime/spec"
)

// delegateFeatures is the part of `runc features` runcage relies on.
type delegateFeatures struct {
	Linux *struct {
		MountExtensions *struct {
			IDMap *struct {
				Enabled *bool `json:"enabled"`
			} `json:"idmap"`
		} `json:"mountExtensions"`
	} `json:"linux"`
}

// idmap reports whether the delegate supports id-mapped mounts (runc's
// "idmap" mount option), as `features` announces it.
func (f *delegateFeatures) idmap() bool {
	l := f.Linux
	return l != nil && l.MountExtensions != nil && l.MountExtensions.IDMap != nil &&
		l.MountExtensions.IDMap.Enabled != nil && *l.MountExtensions.IDMap.Enabled
}

// features returns the delegate's `features` output, cached under the
// state directory by the delegate binary's identity (path, size, mtime), so
// that it costs one fork per delegate upgrade rather than one per create.
func features(stateDir, delegate string) (*delegateFeatures, error) {
	st, err := os.Stat(delegate)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s\x00%d\x00%d", delegate, st.Size(), st.ModTime().UnixNano())
	sum := sha256.Sum256([]byte(id))
	cache := filepath.Join(stateDir, "features", hex.EncodeToString(sum[:12])+".json")
	data, _, err := spec.ReadFile(cache)
	if err != nil {
		if data, err = runDelegate(delegate, "features"); err != nil {
			return nil, fmt.Errorf("%s features: %w (runc older than 1.1 has no features command)", delegate, err)
		}
		if err := os.MkdirAll(filepath.Dir(cache), 0o700); err == nil {
			_ = spec.WriteFileAtomic(cache, data, 0o600)
		}
	}
	var f delegateFeatures
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse %s features: %w", delegate, err)
	}
	return &f, nil
}

// idmapMountsCheck returns a check that the delegate supports runc's idmap
// mount option (runc 1.2 and later).
func idmapMountsCheck(stateDir, delegate string) func() error {
	return func() error {
		f, err := features(stateDir, delegate)
		if err != nil {
			return err
		}
		if !f.idmap() {
			return fmt.Errorf("the delegate runtime %s does not support the idmap mount option (runc 1.2 or later does)", delegate)
		}
		return nil
	}
}
