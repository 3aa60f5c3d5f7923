package landlock

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// TestEngineInit: only a process.args[0] that is exactly the destination
// of a read-only bind (Docker's --init binds docker-init so) gets an
// execute rule of its own; a writable bind, a later mount over it, a
// relative or unclean path, or no mount at all do not.
func TestEngineInit(t *testing.T) {
	ro := specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: "/usr/bin/docker-init", Options: []string{"bind", "ro"}}
	rw := specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: "/usr/bin/docker-init", Options: []string{"rbind", "rw"}}
	for _, c := range []struct {
		name   string
		arg0   string
		mounts []specs.Mount
		want   string
	}{
		{"docker-init", "/sbin/docker-init", []specs.Mount{ro}, "/sbin/docker-init"},
		{"relative destination", "/sbin/docker-init", []specs.Mount{{Destination: "sbin/docker-init", Options: []string{"rbind", "ro"}}}, "/sbin/docker-init"},
		{"writable bind", "/sbin/docker-init", []specs.Mount{rw}, ""},
		{"writable bind over it", "/sbin/docker-init", []specs.Mount{ro, rw}, ""},
		{"no mount", "/bin/sh", []specs.Mount{ro}, ""},
		{"relative arg0", "sbin/docker-init", []specs.Mount{ro}, ""},
		{"unclean arg0", "/sbin/../sbin/docker-init", []specs.Mount{ro}, ""},
		{"tmpfs", "/sbin/docker-init", []specs.Mount{{Destination: "/sbin/docker-init", Type: "tmpfs", Options: []string{"ro"}}}, ""},
	} {
		s := &specs.Spec{Process: &specs.Process{Args: []string{c.arg0}}, Mounts: c.mounts}
		if got := engineInit(s); got != c.want {
			t.Errorf("%s: engineInit = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestProcessRules: a sandbox container gets no file rule but execute on
// its own program (a regular file only: the helper's -x), and keeps the
// ports and scopes; a process behind an engine's init gets the rules plus
// execute on the init; anything else, and a sandbox of a profile without
// file rules, keeps the rules (nil).
func TestProcessRules(t *testing.T) {
	l := &profiles.Landlock{FS: []profiles.LandlockPath{{Path: "/etc/passwd", Access: []string{"read"}}}, Bind: []int{80}, Scopes: []string{"signal"}}
	sandbox := func(arg0, key string) *specs.Spec {
		return &specs.Spec{Process: &specs.Process{Args: []string{arg0}}, Annotations: map[string]string{key: "sandbox"}}
	}
	got, file := processRules(l, sandbox("/pause", "io.kubernetes.cri.container-type"))
	if got == nil || len(got.FS) != 0 || file != "/pause" || !reflect.DeepEqual(got.Bind, l.Bind) || !reflect.DeepEqual(got.Scopes, l.Scopes) {
		t.Errorf("containerd sandbox: %+v, %q", got, file)
	}
	if got, file := processRules(l, sandbox("/pause", "io.kubernetes.cri-o.ContainerType")); got == nil || len(got.FS) != 0 || file != "/pause" {
		t.Errorf("CRI-O sandbox: %+v, %q", got, file)
	}
	for name, s := range map[string]*specs.Spec{
		"relative program": sandbox("pause", "io.kubernetes.cri.container-type"),
		"other annotation": sandbox("/pause", "io.kubernetes.cri.sandbox-id"),
		"plain container":  {Process: &specs.Process{Args: []string{"/bin/sh"}}},
		"container in pod": {Process: &specs.Process{Args: []string{"/bin/sh"}}, Annotations: map[string]string{"io.kubernetes.cri.container-type": "container"}},
	} {
		if got, file := processRules(l, s); got != nil || file != "" {
			t.Errorf("%s: %+v, %q, want the profile's rules", name, got, file)
		}
	}
	if got, _ := processRules(&profiles.Landlock{Bind: []int{80}}, sandbox("/pause", "io.kubernetes.cri.container-type")); got != nil {
		t.Errorf("sandbox of a profile without file rules: %+v, want its rules", got)
	}
	init := &specs.Spec{Process: &specs.Process{Args: []string{"/sbin/docker-init", "--", "sh"}},
		Mounts: []specs.Mount{{Destination: "/sbin/docker-init", Type: "bind", Options: []string{"bind", "ro"}}}}
	if got, file := processRules(l, init); got != l || file != "/sbin/docker-init" || len(l.FS) != 1 {
		t.Errorf("docker-init: %+v, %q (profile's rules now %+v)", got, file, l.FS)
	}
}
