package runtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// The shim's entry points on a container created in-process: the exec and
// update checks enforce the profile, and Release undoes the create.
func TestShimAPI(t *testing.T) {
	pol, c, prof, _ := createdDefault(t)

	// An engine's default capabilities are cut; no_new_privs is forced.
	out, err := HardenExecProcess(c, pol, prof, []byte(`{"args":["/bin/true"],"cwd":"/","capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var p specs.Process
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	if !p.NoNewPrivileges || p.Capabilities == nil || len(p.Capabilities.Bounding)+len(p.Capabilities.Effective) > 0 {
		t.Errorf("hardened exec process: %s", out)
	}
	for _, tc := range []struct{ process, want string }{
		{`{"args":["/bin/true"],"cwd":"/","capabilities":{"bounding":["CAP_SYS_ADMIN"]}}`, "CAP_SYS_ADMIN"},
		{`{"args":["/bin/true"],"cwd":"/","noNewPrivileges":false,"selinuxLabel":"system_u:system_r:spc_t:s0"}`, "selinuxLabel"},
		{`{"args":["/bin/true"],"cwd":"/","unknownMember":1}`, "unknownMember"},
	} {
		_, err := HardenExecProcess(c, pol, prof, []byte(tc.process))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HardenExecProcess(%s) = %v, want a refusal naming %s", tc.process, err, tc.want)
		}
	}

	if err := GuardUpdate(c, pol, prof, []byte(`{"memory":{"limit":268435456}}`)); err != nil {
		t.Errorf("memory limit update: %v", err)
	}
	if err := GuardUpdate(c, pol, prof, []byte(`{"unified":{"cgroup.procs":"1"}}`)); !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("update of cgroup.procs: %v, want a refusal", err)
	}

	// No delegate made the container: Release undoes everything.
	if err := Release(c, pol); err != nil {
		t.Fatal(err)
	}
	requireNothingSetUp(t, pol, c)
	if err := Release(c, pol); err != nil {
		t.Errorf("second Release: %v", err)
	}
}
