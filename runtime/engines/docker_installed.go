package engines

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DockerInstalled is what an earlier `runcage install docker` registered in
// a daemon.json: the runtime "runcage" and the runcage-<profile> runtimes
// that run the same binary with the same policy. It exists so that a
// command that adds a profile (`runcage profile generate`) can say, or do,
// the install that registers it too: dockerd knows only the runtimes its
// daemon.json named when it last (re)loaded.
type DockerInstalled struct {
	// Config is the daemon.json read.
	Config string
	// Binary is the path of the "runcage" runtime.
	Binary string
	// Policy is its --runcage-config ("" for none).
	Policy string
	// Profiles are the profiles registered as runcage-<profile> with that
	// binary and policy, in the file's order.
	Profiles []string
}

// ReadDockerInstalled reads the daemon.json at config and returns what
// runcage registered there, or nil when it registers no runtime named
// "runcage" (a missing file included). It changes nothing. A file install
// would refuse (a symlink, malformed JSON) is an error.
func ReadDockerInstalled(config string) (*DockerInstalled, error) {
	data, _, exists, err := readConfig(config)
	if err != nil || !exists {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("read %s: %w", config, err)
	}
	var raw json.RawMessage
	for k, v := range top { // dockerd matches keys as encoding/json does
		if k == "runtimes" || raw == nil && strings.EqualFold(k, "runtimes") {
			raw = v
		}
	}
	rt, err := scanObject(raw, firstNonSpace(raw, 0))
	if err != nil {
		return nil, nil // no runtimes object: nothing of runcage's
	}
	decode := func(m *jsonMember) (dockerRuntime, bool) {
		var v dockerRuntime
		return v, json.Unmarshal(raw[m.ValStart:m.ValEnd], &v) == nil
	}
	m := rt.findExact("runcage")
	if m == nil {
		return nil, nil
	}
	base, ok := decode(m)
	if !ok {
		return nil, fmt.Errorf("read %s: runtime \"runcage\" is not a runtime entry", config)
	}
	in := &DockerInstalled{Config: config, Binary: base.Path}
	for _, a := range base.RuntimeArgs {
		if p, ok := strings.CutPrefix(a, "--runcage-config="); ok {
			in.Policy = p
		}
	}
	for i := range rt.Members {
		name, ok := strings.CutPrefix(rt.Members[i].Key, "runcage-")
		if !ok {
			continue
		}
		// Only entries exactly as install writes them for this binary
		// and policy count: the runcage-<profile> link, or the
		// --runcage-profile form of earlier installs.
		want := (&Docker{Request: Request{Binary: in.Binary, Profiles: []string{name}}, Policy: in.Policy}).runtimes()[1]
		v, ok := decode(&rt.Members[i])
		if ok && (sameRuntime(v, want.Value) || sameRuntime(v, *want.Legacy)) {
			in.Profiles = append(in.Profiles, name)
		}
	}
	return in, nil
}

func sameRuntime(a, b dockerRuntime) bool {
	return a.Path == b.Path && slices.Equal(a.RuntimeArgs, b.RuntimeArgs)
}

// Has reports whether profile is registered as runcage-<profile>.
func (in *DockerInstalled) Has(profile string) bool {
	return slices.Contains(in.Profiles, profile)
}

// Adding returns the Docker install that registers profile as well, with
// the same binary, policy and config; Request.Profiles is the registered
// profiles plus profile. The caller still checks the profiles against the
// policy (NewRequest) before it installs.
func (in *DockerInstalled) Adding(profile string) *Docker {
	ps := slices.Clone(in.Profiles)
	if !slices.Contains(ps, profile) {
		ps = append(ps, profile)
	}
	return &Docker{Request: Request{Binary: in.Binary, Profiles: ps, Now: time.Now}, Config: in.Config, Policy: in.Policy}
}

// Argv is the `runcage install docker` command line that performs d.
func (d *Docker) Argv() []string {
	argv := []string{d.Binary, "install", "docker", "--config", d.Config, "--binary", d.Binary}
	if d.Policy != "" {
		argv = append(argv, "--policy", d.Policy)
	}
	return append(argv, "--profiles", strings.Join(d.Profiles, ","))
}
