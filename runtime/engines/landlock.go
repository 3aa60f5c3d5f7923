package engines

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/policy"
)

// checkLandlockHelper refuses to register binary when one of the profiles
// it will run (names, and the policy's default profile, which the plain
// "runcage" runtime runs) has Landlock rules and the helper runcage binds
// into such containers is not beside binary once symlinks are resolved,
// where landlock.HelperPath looks for it (os.Executable resolves the
// runcage-<profile> links and the shim's link). Every container of that
// profile would otherwise be refused at create: better to say so now.
func checkLandlockHelper(pol *policy.Policy, binary string, names []string) error {
	real, err := filepath.EvalSymlinks(binary)
	if err != nil {
		return fmt.Errorf("resolve runcage binary: %w", err)
	}
	helper := filepath.Join(filepath.Dir(real), landlock.HelperName)
	if st, err := os.Stat(helper); err == nil && st.Mode().IsRegular() {
		return nil
	}
	for _, n := range append([]string{pol.DefaultProfile}, names...) {
		prof, err := pol.Profile(n)
		if err != nil || prof.Passthrough || !landlock.Active(prof.Landlock) {
			continue
		}
		return fmt.Errorf("%w: profile %q has Landlock rules and their helper %s is not beside %s (make build builds it; copy it beside any copy of runcage)", errInstall, n, helper, real)
	}
	return nil
}
