package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"

	"github.com/runcage/runcage/profiles/seccomp"
)

// SPO API group, version and kind of a security-profiles-operator seccomp
// profile.
const (
	spoAPIVersion = "security-profiles-operator.x-k8s.io/v1beta1"
	spoKind       = "SeccompProfile"
)

// spoSeccompProfile mirrors the fields of the security-profiles-operator's
// SeccompProfile (sigs.k8s.io/security-profiles-operator,
// api/seccompprofile/v1beta1/seccompprofile_types.go) that an export fills
// in. The operator's module pulls in Kubernetes' client libraries, so
// runcage keeps this mirror instead; a test decodes exports strictly into
// it.
type spoSeccompProfile struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   spoMetadata `json:"metadata"`
	Spec       spoSpec     `json:"spec"`
}

// spoMetadata is the part of Kubernetes' ObjectMeta an export sets.
type spoMetadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// spoSpec mirrors SeccompProfileSpec. The operator has no default errno:
// the runtime's (EPERM) applies.
type spoSpec struct {
	BaseProfileName string       `json:"baseProfileName,omitempty"`
	DefaultAction   string       `json:"defaultAction"`
	Architectures   []string     `json:"architectures,omitempty"`
	Syscalls        []spoSyscall `json:"syscalls,omitempty"`
	Flags           []string     `json:"flags,omitempty"`
}

// spoSyscall mirrors the operator's Syscall.
type spoSyscall struct {
	Names    []string `json:"names"`
	Action   string   `json:"action"`
	ErrnoRet uint     `json:"errnoRet,omitempty"`
	Args     []spoArg `json:"args,omitempty"`
}

// spoArg mirrors the operator's Arg.
type spoArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value,omitempty"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// k8sNameRE is a Kubernetes object name (an RFC 1123 subdomain).
var k8sNameRE = lazyRegexp(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// k8sName turns a runcage profile name into a Kubernetes object name:
// lowercase, '_' replaced by '-'. It fails if the result is still not a
// valid name.
func k8sName(name string) (string, error) {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	if len(n) > 253 || !k8sNameRE.MatchString(n) {
		return "", fmt.Errorf("%q cannot be a Kubernetes object name", name)
	}
	return n, nil
}

// exportSPO returns f as a security-profiles-operator SeccompProfile
// manifest (YAML) named name (see k8sName), in namespace if not empty.
// The operator cannot express a default errno other than EPERM, a listener
// or NOTIFY rules; such filters are refused rather than exported weaker or
// different.
func exportSPO(f *specs.LinuxSeccomp, name, namespace string) ([]byte, error) {
	if err := seccomp.Compile(f); err != nil && !isNotEnabled(err) {
		return nil, fmt.Errorf("export: %w", err)
	}
	k8s, err := k8sName(name)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if namespace != "" && (len(namespace) > 63 || !k8sNameRE.MatchString(namespace) || strings.Contains(namespace, ".")) {
		return nil, fmt.Errorf("export: namespace %q is not a valid Kubernetes namespace", namespace)
	}
	if f.DefaultErrnoRet != nil && *f.DefaultErrnoRet != 1 {
		return nil, fmt.Errorf("export: default errno %d cannot be expressed (the operator's default is EPERM)", *f.DefaultErrnoRet)
	}
	if f.ListenerPath != "" || f.DefaultAction == specs.ActNotify {
		return nil, fmt.Errorf("export: filters with a seccomp listener cannot be exported")
	}
	p := spoSeccompProfile{
		APIVersion: spoAPIVersion,
		Kind:       spoKind,
		Metadata: spoMetadata{
			Name:        k8s,
			Namespace:   namespace,
			Annotations: map[string]string{"runcage.dev/profile": name},
		},
		Spec: spoSpec{DefaultAction: string(f.DefaultAction)},
	}
	for _, a := range f.Architectures {
		p.Spec.Architectures = append(p.Spec.Architectures, string(a))
	}
	for _, fl := range f.Flags {
		p.Spec.Flags = append(p.Spec.Flags, string(fl))
	}
	for _, sc := range f.Syscalls {
		if sc.Action == specs.ActNotify {
			return nil, fmt.Errorf("export: SCMP_ACT_NOTIFY rules cannot be exported")
		}
		s := spoSyscall{Names: sc.Names, Action: string(sc.Action)}
		if sc.ErrnoRet != nil {
			s.ErrnoRet = *sc.ErrnoRet
		}
		for _, a := range sc.Args {
			s.Args = append(s.Args, spoArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
		}
		p.Spec.Syscalls = append(p.Spec.Syscalls, s)
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return out, nil
}

// exportLocalhost returns f as the JSON file the kubelet's Localhost
// seccomp profiles are (under /var/lib/kubelet/seccomp/, named by a pod's
// securityContext.seccompProfile.localhostProfile): the OCI format, which
// containerd and CRI-O load.
func exportLocalhost(f *specs.LinuxSeccomp) ([]byte, error) {
	if err := seccomp.Compile(f); err != nil && !isNotEnabled(err) {
		return nil, fmt.Errorf("export: %w", err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return append(b, '\n'), nil
}

func isNotEnabled(err error) bool { return errors.Is(err, seccomp.ErrSeccompNotEnabled) }
