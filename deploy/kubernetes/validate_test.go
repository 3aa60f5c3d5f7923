// Package kubernetes holds runcage's Kubernetes deployment files. Its test
// decodes every YAML document strictly into the real typed objects of
// k8s.io/api (an unknown or misspelt field is an error, as with
// `kubectl apply --validate=strict`) and checks that the files agree with
// each other and with what `runcage install containerd` registers.
package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/runcage/runcage/profiles/policy"
)

// objects is every object of the deployment, by kind.
type objects struct {
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	runtimeClasses  []*nodev1.RuntimeClass
	daemonSets      []*appsv1.DaemonSet
}

// decodeAll reads every *.yaml file here and decodes each document
// strictly into its typed object. Kinds the deployment does not use are
// errors, so a new file cannot slip past the checks.
func decodeAll(t *testing.T) *objects {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files: %v", err)
	}
	o := &objects{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			where := fmt.Sprintf("%s document %d", f, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + "/" + tm.Kind {
			case "v1/Namespace":
				x := &corev1.Namespace{}
				o.namespaces, obj = append(o.namespaces, x), x
			case "v1/ServiceAccount":
				x := &corev1.ServiceAccount{}
				o.serviceAccounts, obj = append(o.serviceAccounts, x), x
			case "v1/ConfigMap":
				x := &corev1.ConfigMap{}
				o.configMaps, obj = append(o.configMaps, x), x
			case "node.k8s.io/v1/RuntimeClass":
				x := &nodev1.RuntimeClass{}
				o.runtimeClasses, obj = append(o.runtimeClasses, x), x
			case "apps/v1/DaemonSet":
				x := &appsv1.DaemonSet{}
				o.daemonSets, obj = append(o.daemonSets, x), x
			default:
				t.Fatalf("%s: kind %s/%s is not one the deployment uses (add it to this test)", where, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s: strict decode as %s: %v", where, tm.Kind, err)
			}
		}
	}
	return o
}

// splitDocuments splits a YAML stream at its "---" lines and drops
// documents that hold only comments.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---\n")) {
		empty := true
		for _, l := range strings.Split(string(d), "\n") {
			if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
				empty = false
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
	return docs
}

func TestStrictDecode(t *testing.T) {
	o := decodeAll(t)
	if len(o.namespaces) != 1 || len(o.serviceAccounts) != 1 || len(o.configMaps) != 1 || len(o.daemonSets) != 1 || len(o.runtimeClasses) == 0 {
		t.Fatalf("want 1 Namespace, 1 ServiceAccount, 1 ConfigMap, 1 DaemonSet and RuntimeClasses; got %d, %d, %d, %d, %d",
			len(o.namespaces), len(o.serviceAccounts), len(o.configMaps), len(o.daemonSets), len(o.runtimeClasses))
	}
}

// TestStrictDecodeCatchesTypos proves the decoder used above refuses an
// unknown field: a test that cannot fail proves nothing.
func TestStrictDecodeCatchesTypos(t *testing.T) {
	doc := []byte("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: x\nhandlr: runcage\n")
	if err := yaml.UnmarshalStrict(doc, &nodev1.RuntimeClass{}); err == nil {
		t.Fatal("a misspelt field decoded without error")
	}
}

// installProfiles returns the --profiles list the DaemonSet's install
// container passes to `runcage install containerd`.
func installProfiles(t *testing.T, ds *appsv1.DaemonSet) []string {
	t.Helper()
	for _, c := range ds.Spec.Template.Spec.InitContainers {
		for _, a := range c.Command {
			if v, ok := strings.CutPrefix(a, "--profiles="); ok {
				return strings.Split(v, ",")
			}
		}
	}
	t.Fatal("the DaemonSet's init containers pass no --profiles")
	return nil
}

// TestRuntimeClassesMatchInstall checks that the RuntimeClass handlers are
// exactly the CRI handlers `runcage install containerd` registers for the
// DaemonSet's --profiles (runcage, runcage-<profile>), that each profile
// exists in the ConfigMap's policy as runcage loads it, that passthrough is
// never offered, and that RuntimeClasses schedule onto the DaemonSet's
// nodes.
func TestRuntimeClassesMatchInstall(t *testing.T) {
	o := decodeAll(t)
	ds := o.daemonSets[0]
	profiles := installProfiles(t, ds)
	want := []string{"runcage"}
	for _, p := range profiles {
		want = append(want, "runcage-"+p)
	}
	var got []string
	for _, rc := range o.runtimeClasses {
		if errs := validation.IsDNS1123Label(rc.Handler); len(errs) > 0 {
			t.Errorf("RuntimeClass %s: handler %q: %v", rc.Name, rc.Handler, errs)
		}
		if rc.Name != rc.Handler {
			t.Errorf("RuntimeClass %s has handler %q: name them alike so that runtimeClassName says what runs", rc.Name, rc.Handler)
		}
		got = append(got, rc.Handler)
		if rc.Scheduling == nil || !labels.SelectorFromSet(rc.Scheduling.NodeSelector).Matches(labels.Set(ds.Spec.Template.Spec.NodeSelector)) ||
			!labels.SelectorFromSet(ds.Spec.Template.Spec.NodeSelector).Matches(labels.Set(rc.Scheduling.NodeSelector)) {
			t.Errorf("RuntimeClass %s schedules onto %v, the DaemonSet installs on %v", rc.Name, rc.Scheduling, ds.Spec.Template.Spec.NodeSelector)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("RuntimeClass handlers %q, install registers %q", got, want)
	}

	pol := loadPolicy(t, o.configMaps[0])
	for _, p := range profiles {
		if p == "passthrough" {
			t.Errorf("--profiles offers passthrough: anyone who may pick a RuntimeClass could turn runcage off")
		}
		if _, err := pol.Profile(p); err != nil {
			t.Errorf("--profiles names %q, which the ConfigMap's policy does not define: %v", p, err)
		}
	}
}

// loadPolicy loads the ConfigMap's config.toml with runcage's own loader,
// which refuses unknown keys and bad profile settings.
func loadPolicy(t *testing.T, cm *corev1.ConfigMap) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	for name, text := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Load(filepath.Join(dir, "config.toml"), true)
	if err != nil {
		t.Fatalf("ConfigMap %s: %v", cm.Name, err)
	}
	for _, name := range pol.Names() {
		if _, err := pol.Profile(name); err != nil {
			t.Errorf("ConfigMap %s: profile %s: %v", cm.Name, name, err)
		}
	}
	return pol
}

// TestDaemonSetConsistent checks the DaemonSet against the other objects
// and against the rules the installer relies on.
func TestDaemonSetConsistent(t *testing.T) {
	o := decodeAll(t)
	ds, ns, sa, cm := o.daemonSets[0], o.namespaces[0], o.serviceAccounts[0], o.configMaps[0]
	for _, m := range []metav1.ObjectMeta{ds.ObjectMeta, sa.ObjectMeta, cm.ObjectMeta} {
		if m.Namespace != ns.Name {
			t.Errorf("%s is in namespace %q, want %q", m.Name, m.Namespace, ns.Name)
		}
	}
	spec := ds.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, sa.Name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the installer needs no API access: automountServiceAccountToken must be false")
	}
	if spec.HostPID || spec.HostNetwork || spec.HostIPC {
		t.Error("the installer needs no host PID, network or IPC namespace")
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the template's labels %v (%v)", ds.Spec.Selector, ds.Spec.Template.Labels, err)
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil && v.ConfigMap.Name != cm.Name {
			t.Errorf("volume %s uses ConfigMap %q, want %q", v.Name, v.ConfigMap.Name, cm.Name)
		}
	}
	var image string
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range all {
		if image == "" {
			image = c.Image
		}
		if c.Image != image {
			t.Errorf("container %s runs %s, the others %s: the installer and the sync loop must be the same release", c.Name, c.Image, image)
		}
		if i := strings.LastIndexByte(c.Image, ':'); i < 0 || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("container %s: image %q must be pinned to a release tag", c.Name, c.Image)
		}
		sc := c.SecurityContext
		if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: want unprivileged, no privilege escalation, all capabilities dropped; got %+v", c.Name, sc)
		}
		for _, e := range c.Env {
			if e.Name == "RUNCAGE_RESTART_CONTAINERD" && e.Value != "false" {
				t.Errorf("container %s: RUNCAGE_RESTART_CONTAINERD=%q: the shipped default must not restart containerd", c.Name, e.Value)
			}
		}
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				t.Errorf("container %s mounts undefined volume %s", c.Name, m.Name)
				continue
			}
			// Paths written into containerd's config must be node paths.
			if v.HostPath != nil && v.HostPath.Path != m.MountPath {
				t.Errorf("container %s mounts node path %s at %s: mount node directories at their own path", c.Name, v.HostPath.Path, m.MountPath)
			}
			mounts[m.MountPath] = m.Name
		}
		// Every absolute path flag must lie on a volume of this container.
		for _, a := range c.Command[1:] {
			_, val, ok := strings.Cut(a, "=")
			if !ok || !strings.HasPrefix(val, "/") {
				continue
			}
			if strings.HasPrefix(a, "--image-bin=") {
				continue // inside the image
			}
			found := false
			for mp := range mounts {
				found = found || val == mp || strings.HasPrefix(val, mp+"/")
			}
			if !found {
				t.Errorf("container %s: %s is on no volume of the container", c.Name, a)
			}
		}
	}
}

// TestPolicyRuntimeIsInstalled checks that the policy's delegate runtime
// is the runc the installer copies to the node.
func TestPolicyRuntimeIsInstalled(t *testing.T) {
	o := decodeAll(t)
	pol := loadPolicy(t, o.configMaps[0])
	var hostBin string
	for _, a := range o.daemonSets[0].Spec.Template.Spec.InitContainers[0].Command {
		if v, ok := strings.CutPrefix(a, "--host-bin="); ok {
			hostBin = v
		}
	}
	if want := filepath.Join(hostBin, "runc"); pol.Runtime != want {
		t.Errorf("policy runtime = %q, the installer puts runc at %q", pol.Runtime, want)
	}
}
