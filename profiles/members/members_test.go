package members

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// specPaths returns every member path of t, as encoding/json sees its
// fields: json tags, embedded structs flattened, pointers followed, "[]"
// for the elements of arrays of structs, maps or arrays, ".*" for map keys.
func specPaths(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, p string, depth int)
	walk = func(t reflect.Type, p string, depth int) {
		if depth > 20 {
			panic("members: recursive type at " + p)
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				if f.Anonymous && name == "" {
					walk(f.Type, p, depth+1)
					continue
				}
				if name == "" {
					name = f.Name
				}
				q := join(p, name)
				out = append(out, q)
				walk(f.Type, q, depth+1)
			}
		case reflect.Slice, reflect.Array:
			e := t.Elem()
			for e.Kind() == reflect.Pointer {
				e = e.Elem()
			}
			switch e.Kind() {
			case reflect.Struct, reflect.Map, reflect.Slice:
				out = append(out, p+"[]")
				walk(e, p+"[]", depth+1)
			}
		case reflect.Map:
			out = append(out, p+".*")
			walk(t.Elem(), p+".*", depth+1)
		}
	}
	walk(t, "", 0)
	return out
}

// decided reports whether path has a decision, itself or through a Refused
// or NotLinux member above it.
func decided(path string) bool {
	if Lookup(path) != nil {
		return true
	}
	for p := path; p != ""; {
		p, _ = split(p)
		if d := Lookup(p); d != nil && (d.Kind == Refused || d.Kind == NotLinux) {
			return true
		}
	}
	return false
}

func TestTableCoversSpec(t *testing.T) {
	paths := specPaths(reflect.TypeOf(specs.Spec{}))
	if len(paths) < 300 {
		t.Fatalf("walked only %d member paths of specs.Spec; the walker is broken", len(paths))
	}
	for _, p := range paths {
		if !decided(p) {
			t.Errorf("config.json member %q has no decision in members.Table", p)
		}
	}
}

func TestTableHasNoStaleEntries(t *testing.T) {
	exists := map[string]bool{}
	for _, p := range specPaths(reflect.TypeOf(specs.Spec{})) {
		exists[p] = true
	}
	for _, d := range Table() {
		if !exists[d.Path] {
			t.Errorf("members.Table has %q, which is not a member of runtime-spec v1.3.0's specs.Spec", d.Path)
		}
		if d.Kind < Allowed || d.Kind > NotLinux || d.Why == "" {
			t.Errorf("entry %q has kind %v and reason %q", d.Path, d.Kind, d.Why)
		}
	}
}

// TestDecidedHelper proves the coverage test can fail.
func TestDecidedHelper(t *testing.T) {
	for p, want := range map[string]bool{
		"linux.netDevices.*.name": true, // below a refused member
		"windows.devices[].id":    true, // below a non-Linux section
		"linux.fooBar":            false,
		"process.fooBar":          false,
		"process.capabilities":    true,
	} {
		if got := decided(p); got != want {
			t.Errorf("decided(%q) = %v, want %v", p, got, want)
		}
	}
}

const base = `"ociVersion":"1.3.0","process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}`

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		json    string // members after base
		opts    Options
		wantErr string // "" means accepted
	}{
		{name: "plain", json: `"linux":{"namespaces":[{"type":"pid"}]}`},
		{name: "netDevices", json: `"linux":{"netDevices":{"eth0":{"name":"x"}}}`, wantErr: `config.json member "linux.netDevices" refused: runc would move a host network interface into the container`},
		{name: "netDevices null is absent", json: `"linux":{"netDevices":null}`},
		{name: "netDevices other case", json: `"LINUX":{"NetDevices":{}}`, wantErr: `member "LINUX.NetDevices" refused`},
		{name: "netDevices long s folds", json: `"linux":{"netDevice\u017f":{}}`, wantErr: `refused: runc would move a host network interface`},
		{name: "netDevices allowed by profile", json: `"linux":{"netDevices":{"eth0":{}}}`, opts: Options{Allowed: []string{"linux.netDevices"}}},
		{name: "unknown member", json: `"linux":{"fooBar":1}`, wantErr: `config.json member "linux.fooBar" refused: runcage has no decision for it`},
		{name: "unknown top level", json: `"fooBar":{}`, wantErr: `member "fooBar" refused`},
		{name: "unknown allowed", json: `"linux":{"fooBar":1}`, opts: Options{Allowed: []string{"linux.fooBar"}}},
		{name: "unknown in array element", json: `"mounts":[{"destination":"/x"},{"destination":"/y","evil":1}]`, wantErr: `member "mounts[1].evil" refused`},
		{name: "intelRdt", json: `"linux":{"intelRdt":{"closID":"x"}}`, wantErr: `"linux.intelRdt" refused: runc writes the host's resctrl`},
		{name: "windows", json: `"windows":{"layerFolders":["x"]}`, wantErr: `"windows" refused: a non-Linux section`},
		{name: "personality linux", json: `"linux":{"personality":{"domain":"LINUX"}}`},
		{name: "personality linux32", json: `"linux":{"personality":{"domain":"LINUX32"}}`, wantErr: `"linux.personality.domain" refused: domain "LINUX32"`},
		{name: "propagation rprivate", json: `"linux":{"rootfsPropagation":"rprivate"}`},
		{name: "propagation rshared", json: `"linux":{"rootfsPropagation":"rshared"}`, wantErr: `"linux.rootfsPropagation" refused: "rshared"`},
		{name: "propagation shared", json: `"linux":{"rootfsPropagation":"shared"}`, wantErr: `propagate to the host`},
		{name: "scheduler other", json: `"process":{"scheduler":{"policy":"SCHED_OTHER","nice":5}}`},
		{name: "scheduler fifo", json: `"process":{"scheduler":{"policy":"SCHED_FIFO","priority":99}}`, wantErr: `"process.scheduler.policy" refused: policy "SCHED_FIFO"`},
		{name: "scheduler deadline", json: `"process":{"scheduler":{"policy":"SCHED_DEADLINE"}}`, wantErr: `policy "SCHED_DEADLINE"`},
		{name: "scheduler negative nice", json: `"process":{"scheduler":{"policy":"SCHED_OTHER","nice":-20}}`, wantErr: `"process.scheduler.nice" refused: nice -20`},
		{name: "scheduler flags", json: `"process":{"scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_UTIL_CLAMP_MIN"]}}`, wantErr: `flag "SCHED_FLAG_UTIL_CLAMP_MIN"`},
		{name: "scheduler reset on fork", json: `"process":{"scheduler":{"policy":"SCHED_BATCH","flags":["SCHED_FLAG_RESET_ON_FORK"]}}`},
		{name: "ioprio rt", json: `"process":{"ioPriority":{"class":"IOPRIO_CLASS_RT","priority":0}}`, wantErr: `"process.ioPriority.class" refused: class "IOPRIO_CLASS_RT"`},
		{name: "ioprio be", json: `"process":{"ioPriority":{"class":"IOPRIO_CLASS_BE","priority":4}}`},
		{name: "execCPUAffinity", json: `"process":{"execCPUAffinity":{"initial":"0"}}`, wantErr: `"process.execCPUAffinity" refused`},
		{name: "rlimit nofile", json: `"process":{"rlimits":[{"type":"RLIMIT_NOFILE","soft":1024,"hard":1048576}]}`},
		{name: "rlimit rtprio", json: `"process":{"rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":1},{"type":"RLIMIT_RTPRIO","soft":0,"hard":99}]}`, wantErr: `"process.rlimits[1]" refused: RLIMIT_RTPRIO 99`},
		{name: "rlimit nice 40", json: `"process":{"rlimits":[{"type":"RLIMIT_NICE","soft":40,"hard":40}]}`, wantErr: `RLIMIT_NICE 40`},
		{name: "rlimit nice huge", json: `"process":{"rlimits":[{"type":"RLIMIT_NICE","soft":0,"hard":18446744073709551615}]}`, wantErr: `RLIMIT_NICE`},
		{name: "mount uidMappings", json: `"mounts":[{"destination":"/x","source":"/y","type":"bind","options":["bind"],"uidMappings":[{"containerID":0,"hostID":0,"size":1}]}]`, wantErr: `"mounts[0].uidMappings" refused: an id-mapped mount`},
		{name: "mount mappings equal to the container's", json: `"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]},"mounts":[{"destination":"/x","source":"/y","type":"bind","uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}]`},
		{name: "mount gid mappings differ", json: `"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]},"mounts":[{"destination":"/x","source":"/y","type":"bind","gidMappings":[{"containerID":0,"hostID":0,"size":65536}]}]`, wantErr: `"mounts[0].gidMappings" refused: an id-mapped mount whose mapping differs from linux.gidMappings`},
		{name: "mount idmap option", json: `"mounts":[{"destination":"/x","source":"/y","type":"bind","options":["bind","idmap"]}]`},
		{name: "listener elsewhere", json: `"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/docker.sock"}}`, opts: Options{StateDir: "/run/runcage"}, wantErr: `"linux.seccomp.listenerPath" refused`},
		{name: "listener escapes", json: `"linux":{"seccomp":{"listenerPath":"/run/runcage/agents/../../docker.sock"}}`, opts: Options{StateDir: "/run/runcage"}, wantErr: `listenerPath`},
		{name: "listener own", json: `"linux":{"seccomp":{"listenerPath":"/run/runcage/agents/c1.sock"}}`, opts: Options{StateDir: "/run/runcage"}},
		{name: "listener metadata", json: `"linux":{"seccomp":{"listenerMetadata":"x"}}`, wantErr: `"linux.seccomp.listenerMetadata" refused`},
		{name: "unified memory", json: `"linux":{"resources":{"unified":{"memory.high":"1G","hugetlb.2MB.max":"0"}}}`},
		{name: "unified traversal", json: `"linux":{"resources":{"unified":{"memory/../../cgroup.procs":"1"}}}`, wantErr: `cgroup file "memory/../../cgroup.procs"`},
		{name: "unified dotdot", json: `"linux":{"resources":{"unified":{"memory..x":"1"}}}`, wantErr: `cgroup file`},
		{name: "unified cgroup.procs", json: `"linux":{"resources":{"unified":{"cgroup.procs":"1"}}}`, wantErr: `cgroup file "cgroup.procs"`},
		{name: "unified pids.max", json: `"linux":{"resources":{"unified":{"pids.max":"max"}}}`, wantErr: `"linux.resources.unified.pids.max" refused`},
		{name: "net_cls", json: `"linux":{"resources":{"network":{"classID":1048577}}}`, wantErr: `"linux.resources.network" refused`},
		{name: "annotations data", json: `"annotations":{"io.kubernetes.cri.sandbox-id":"x","org.opencontainers.image.title":"t"}`},
		{name: "criu config", json: `"annotations":{"org.criu.config":"/etc/evil.conf"}`, wantErr: `"annotations.org.criu.config" refused: runc passes org.criu.config to CRIU`},
		{name: "criu config case", json: `"annotations":{"ORG.CRIU.config":"/etc/evil.conf"}`, wantErr: `refused`},
		{name: "systemd property", json: `"annotations":{"org.systemd.property.DeviceAllow":"/dev/sda rwm"}`, wantErr: `"annotations.org.systemd.property.DeviceAllow" refused: runc sets the systemd unit property`},
		{name: "systemd property other case", json: `"annotations":{"ORG.systemd.property.KillSignal":"9"}`, wantErr: `systemd unit property`},
		{name: "podman's systemd properties", json: `"annotations":{"io.container.manager":"libpod","org.systemd.property.KillSignal":"15","org.systemd.property.TimeoutStopUSec":"uint64 10000000"}`},
		{name: "cri-o's systemd properties", json: `"annotations":{"org.systemd.property.CollectMode":"'inactive-or-failed'","org.systemd.property.DefaultDependencies":"true","org.systemd.property.After":"['crio.service']"}`},
		{name: "crun annotation", json: `"annotations":{"run.oci.keep_original_groups":"1"}`, wantErr: `crun acts on`},
		{name: "annotation with =", json: `"annotations":{"org.criu.config=/etc/x":""}`, wantErr: `key=value labels`},
		{name: "annotation bundle", json: `"annotations":{"bundle":"/tmp"}`, wantErr: `bundle label`},
		{name: "hooks present", json: `"hooks":{"prestart":[{"path":"/bin/true"}]}`},
		{name: "unknown hook stage", json: `"hooks":{"preStartEvil":[{"path":"/bin/true"}]}`, wantErr: `"hooks.preStartEvil" refused`},
		{name: "oomScoreAdj left to profiles/process", json: `"process":{"oomScoreAdj":-1000}`},
		{name: "commandLine", json: `"process":{"commandLine":"x"}`, wantErr: `"process.commandLine" refused: a non-Linux`},
		{name: "hostile key escaped", json: `"linux":{"foo\u001b[31m\n":1}`, wantErr: `"linux.foo\x1b[31m\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{` + base + `,` + tc.json + `}`
			if strings.HasPrefix(tc.json, `"process"`) {
				// Replace the base process rather than duplicate it.
				raw = `{"ociVersion":"1.3.0","root":{"path":"rootfs"},` + tc.json + `}`
			}
			err := Check([]byte(raw), tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check refused: %v", err)
				}
				return
			}
			if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want a refusal containing %s", err, tc.wantErr)
			}
			if strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Fatalf("error carries raw control bytes: %q", err.Error())
			}
		})
	}
}

func TestCheckProcess(t *testing.T) {
	if err := CheckProcess([]byte(`{"cwd":"/","args":["sh"],"scheduler":{"policy":"SCHED_RR"}}`), Options{}); !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), `"process.scheduler.policy"`) {
		t.Fatalf("err = %v", err)
	}
	if err := CheckProcess([]byte(`{"cwd":"/","args":["sh"],"env":["A=1"]}`), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckResources(t *testing.T) {
	for raw, want := range map[string]string{
		`{"memory":{"limit":1048576},"unified":{"memory.high":"1M"}}`: "",
		`{"unified":{"../../cgroup.procs":"1"}}`:                      `"linux.resources.unified.../../cgroup.procs" refused`,
		`{"network":{"classID":1}}`:                                   `"linux.resources.network" refused`,
		`{"pids":{"limit":10},"evil":1}`:                              `"linux.resources.evil" refused`,
	} {
		err := CheckResources([]byte(raw), Options{})
		if want == "" {
			if err != nil {
				t.Errorf("CheckResources(%s) = %v", raw, err)
			}
			continue
		}
		if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckResources(%s) = %v, want %s", raw, err, want)
		}
	}
}

func TestCheckMalformed(t *testing.T) {
	for _, raw := range []string{`{`, `{"a":1} {}`, ``} {
		if err := Check([]byte(raw), Options{}); err == nil {
			t.Errorf("Check(%q) accepted malformed input", raw)
		}
	}
}

func TestValidateAllowed(t *testing.T) {
	for p, ok := range map[string]bool{
		"linux.intelRdt":       true,
		"linux.fooBar":         true,
		"annotations.*":        true,
		"mounts[].uidMappings": true,
		"":                     false,
		"linux..x":             false,
		"linux.netDevices\n":   false,
		"../etc":               false,
	} {
		if err := ValidateAllowed([]string{p}); (err == nil) != ok {
			t.Errorf("ValidateAllowed(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the member table in docs/threat-model.md")

const (
	docPath  = "../../docs/threat-model.md"
	docBegin = "<!-- BEGIN members table: generated by `go test ./profiles/members -run TestThreatModelDoc -update`; do not edit -->\n"
	docEnd   = "<!-- END members table -->\n"
)

// TestThreatModelDoc fails when docs/threat-model.md does not carry
// exactly the table generated from Table; -update rewrites it.
func TestThreatModelDoc(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, docBegin), strings.Index(text, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated members table (markers %q ... %q)", docPath, docBegin, docEnd)
	}
	want := text[:i] + docBegin + MarkdownTable() + docEnd + text[j+len(docEnd):]
	if want == text {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is out of date with members.Table; run go test ./profiles/members -run TestThreatModelDoc -update", docPath)
}
