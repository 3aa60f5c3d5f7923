package record

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/runtime/spec"
)

// ErrProfileExists is wrapped by the error of Generate when the profile
// directory exists and GenerateOptions.Force is false.
var ErrProfileExists = errors.New("profile exists")

// write installs the profile as the directory <profilesDir>/<g.Name>,
// atomically: the files are written (spec.WriteFileAtomic, 0644) into a
// new temporary directory <profilesDir>/.generate-XXXX/<g.Name>, check
// (if not nil) is called with <profilesDir>/.generate-XXXX so that the
// caller can load the profile from there as the policy would, and only
// then is the directory
// renamed into place. A reader sees the old profile or the new one, never a
// mix. Without force an existing profile is left alone and the error wraps
// ErrProfileExists; with force it is replaced (renameat2 RENAME_EXCHANGE)
// and then removed. The temporary directory is removed on every path.
func (g *Generated) write(profilesDir string, force bool, check func(tmpProfilesDir string) error) (err error) {
	final := filepath.Join(profilesDir, g.Name)
	if fi, err := os.Lstat(final); err == nil && !force {
		return fmt.Errorf("write profile %s: %w (use --force to replace it)", final, ErrProfileExists)
	} else if err == nil && !fi.IsDir() {
		return fmt.Errorf("write profile %s: exists and is not a directory; refusing to replace it", final)
	}
	if err := os.MkdirAll(profilesDir, 0o755); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	tmpRoot, err := os.MkdirTemp(profilesDir, ".generate-")
	if err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(tmpRoot); rmErr != nil && err == nil {
			err = fmt.Errorf("write profile: remove temporary directory: %w", rmErr)
		}
	}()
	if err := os.Chmod(tmpRoot, 0o700); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	tmp := filepath.Join(tmpRoot, g.Name)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(g.Files)) {
		path := filepath.Join(tmp, name)
		if err := spec.WriteFileAtomic(path, g.Files[name], 0o644); err != nil {
			return fmt.Errorf("write profile: write %s: %w", path, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	if check != nil {
		if err := check(tmpRoot); err != nil {
			return fmt.Errorf("check generated profile: %w", err)
		}
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE)
	switch {
	case errors.Is(err, unix.EEXIST) && force:
		// Swap the new directory in; the old one is then at tmp and goes
		// with tmpRoot.
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("write profile: replace %s: %w", final, err)
		}
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("write profile %s: %w (use --force to replace it)", final, ErrProfileExists)
	case err != nil:
		return fmt.Errorf("write profile: rename into %s: %w", final, err)
	}
	if err := syncDir(profilesDir); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
