package engines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// Containerd is containerd as an Engine (`runcage install containerd`).
// Install registers the CRI runtime handlers "runcage" and
// "runcage-<profile>" in a drop-in file, creates the runcage-<profile>
// symlinks (runcage picks the profile from the name it is called by), and
// makes sure the main config imports the drop-in. With Shim set the
// handlers run containerd-shim-runcage-v2, each with an options file
// naming its profile, and containerd finds the shim by runtime_path (1.7,
// 2.x) or by name through a link (1.6); without it they run containerd's
// runc shim with runcage (or a runcage-<profile> link) as its runc binary.
//
// containerd 1.6 merges an imported file into the main config plugin by
// plugin: an imported [plugins."io.containerd.grpc.v1.cri"] table replaces
// the main config's whole CRI table, and the runtimes map inside it replaces
// the default one (so the default runc handler would vanish). The drop-in
// therefore repeats the main config's CRI table, plus an explicit runc
// handler when the main config relies on the default one, plus runcage's
// handlers. When a containerd binary is available, install proves the
// result with `containerd config dump`: the effective config after the
// change must equal the one before, plus runcage's handlers; otherwise both
// files are put back and install fails.
type Containerd struct {
	Request
	// Config is containerd's main config; it may not exist yet.
	Config string
	// Dropin is the file runcage owns and rewrites.
	Dropin string
	// Containerd is the containerd binary used to verify the merge and to
	// learn its version; empty skips both.
	Containerd string
	// Shim is the absolute path of containerd-shim-runcage-v2. When set,
	// the handlers run it (runtime_type io.containerd.runcage.v2), each with
	// an options file in OptionsDir (its ConfigPath); when empty, they run
	// containerd's runc shim with Binary or a runcage-<profile> link as its
	// runc binary (BinaryName), as before the shim existed.
	Shim string
	// ShimOptional makes a missing Shim fall back to the runc-binary form
	// (with a line saying so) instead of refusing.
	ShimOptional bool
	// OptionsDir holds the shim handlers' options files, <handler>.toml.
	OptionsDir string
	// ShimLinkDir is where containerd 1.6, which has no runtime_path, finds
	// the shim by its name: install makes a containerd-shim-runcage-v2
	// link to Shim there unless Shim is that file. Empty: the directory of
	// the Containerd binary. containerd 1.7 and 2.x get runtime_path instead.
	ShimLinkDir string
}

// ShimRuntimeType is the runtime_type of the shim handlers; containerd runs
// it as the binary ShimBinaryName.
const ShimRuntimeType = "io.containerd.runcage.v2"

// ShimBinaryName is the file name containerd looks the shim up by.
const ShimBinaryName = "containerd-shim-runcage-v2"

// runcRuntimeType is containerd's own runc shim.
const runcRuntimeType = "io.containerd.runc.v2"

// DefaultOptionsDir is where install writes the shim handlers' options.
const DefaultOptionsDir = "/etc/runcage/containerd"

// criPluginKey is the plugin whose runtimes table holds the CRI runtime
// handlers, by config version.
var criPluginKey = map[int64]string{
	2: "io.containerd.grpc.v1.cri",
	3: "io.containerd.cri.v1.runtime",
}

// dropinHeader starts the drop-in file.
const dropinHeader = `# Written by "runcage install containerd". Re-run it instead of editing this
# file: it is replaced on every install.
#
# containerd merges an imported file plugin by plugin, so this file repeats
# the main config's CRI plugin table (and the default runc handler); after
# changing that table in the main config, run "runcage install containerd"
# again.
`

func (c *Containerd) Install(w io.Writer) error {
	if !filepath.IsAbs(c.Dropin) {
		return fmt.Errorf("%w: --dropin %q is not an absolute path", errInstall, c.Dropin)
	}
	if err := c.checkShim(w); err != nil {
		return err
	}
	mainData, mainPerm, mainExists, err := readConfig(c.Config)
	if err != nil {
		return err
	}
	oldDropin, dropinPerm, dropinExists, err := readConfig(c.Dropin)
	if err != nil {
		return err
	}
	if !dropinExists {
		dropinPerm = 0o644
	}
	ctrd := ""
	if c.Containerd != "" {
		if ctrd, err = exec.LookPath(c.Containerd); err != nil {
			say(w, "containerd binary %q not found: its version is not known and the merged config is not verified with `containerd config dump`", c.Containerd)
			ctrd = ""
		}
	}
	runtimePath := false
	if c.Shim != "" {
		if runtimePath, err = c.supportsRuntimePath(ctrd, mainData, mainExists); err != nil {
			return err
		}
	}
	handlers := c.handlers(runtimePath)
	dropin, err := buildDropin(mainData, mainExists, handlers, c.Force)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Config, err)
	}
	newMain, err := ensureImport(mainData, mainExists, c.Config, c.Dropin)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Config, err)
	}
	links, err := c.profileLinks()
	if err != nil {
		return err
	}
	if c.Shim != "" && !runtimePath {
		l, err := c.shimLink(w, ctrd)
		if err != nil {
			return err
		}
		links = append(links, l...)
	}
	opts, err := c.optionsFiles(handlers)
	if err != nil {
		return err
	}
	mainChanged := !mainExists || !bytes.Equal(newMain, mainData)
	dropinChanged := !dropinExists || !bytes.Equal(dropin, oldDropin)
	if !mainChanged && !dropinChanged && len(links) == 0 && len(opts) == 0 {
		say(w, "runcage is already installed for containerd (%s, imported by %s): nothing changed", c.Dropin, c.Config)
		return nil
	}
	for _, l := range links {
		if err := l.make(); err != nil {
			return err
		}
		say(w, "symlink %s -> %s", l.path, l.target)
	}

	var before map[string]any
	verify := ctrd != ""
	if verify {
		if before, err = c.dumpBefore(ctrd, mainData, mainExists); err != nil {
			return err
		}
	}
	now := c.Now()
	restore := func() error { return nil }
	for _, o := range opts {
		prev := restore
		restore = func() error { return errors.Join(putBack(o.path, o.old, 0o644, o.existed), prev()) }
		if err := o.write(); err != nil {
			return errors.Join(err, restore())
		}
		say(w, "wrote %s", o.path)
	}
	if dropinChanged {
		bak, err := writeWithBackup(c.Dropin, oldDropin, dropin, dropinPerm, dropinExists, now)
		if err != nil {
			return errors.Join(err, restore())
		}
		prev := restore
		restore = func() error { return errors.Join(putBack(c.Dropin, oldDropin, dropinPerm, dropinExists), prev()) }
		if bak != "" {
			say(w, "backup of the previous drop-in: %s", bak)
		}
		say(w, "wrote %s", c.Dropin)
	}
	if mainChanged {
		bak, err := writeWithBackup(c.Config, mainData, newMain, mainPerm, mainExists, now)
		if err != nil {
			return errors.Join(err, restore())
		}
		prev := restore
		restore = func() error {
			return errors.Join(putBack(c.Config, mainData, mainPerm, mainExists), prev())
		}
		if bak != "" {
			say(w, "backup of the previous main config: %s", bak)
		}
		if mainExists {
			say(w, "added an imports entry for %s to %s", c.Dropin, c.Config)
		} else {
			say(w, "created %s importing %s", c.Config, c.Dropin)
		}
	}
	if verify {
		if err := c.verify(ctrd, before, handlers); err != nil {
			return errors.Join(err, restore())
		}
		say(w, "verified with `%s --config %s config dump`: only the runcage handlers were added", ctrd, c.Config)
	}
	say(w, "containerd reads its config only on start: restart it when convenient (`systemctl restart containerd`); nothing was restarted")
	if c.Shim != "" {
		say(w, "then: a RuntimeClass with handler: runcage (or runcage-<profile>), or ctr run --runtime %s --runtime-config-path %s", c.Shim, handlers[0].Options)
	} else {
		say(w, "then: a RuntimeClass with handler: runcage (or runcage-<profile>), or ctr run --runtime io.containerd.runc.v2 --runc-binary %s", c.Binary)
	}
	return nil
}

// checkShim checks Shim and OptionsDir, and drops Shim (the runc-binary
// form) when it is missing and ShimOptional.
func (c *Containerd) checkShim(w io.Writer) error {
	if c.Shim == "" {
		return nil
	}
	if !filepath.IsAbs(c.Shim) {
		return fmt.Errorf("%w: shim %q is not an absolute path", errInstall, c.Shim)
	}
	c.Shim = filepath.Clean(c.Shim)
	if st, err := os.Stat(c.Shim); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		if !c.ShimOptional {
			return fmt.Errorf("%w: shim %s is not an executable file (--shim=false registers the runc-binary form)", errInstall, c.Shim)
		}
		say(w, "no shim at %s: registering the handlers with containerd's runc shim and %s as its runc binary", c.Shim, c.Binary)
		c.Shim = ""
		return nil
	}
	if c.OptionsDir == "" {
		c.OptionsDir = DefaultOptionsDir
	}
	if !filepath.IsAbs(c.OptionsDir) {
		return fmt.Errorf("%w: --options-dir %q is not an absolute path", errInstall, c.OptionsDir)
	}
	return nil
}

// supportsRuntimePath reports whether the containerd reading the main
// config takes runtime_path (1.7 and later): a version 3 config is 2.x;
// for version 2 the containerd binary (ctrd, "" when unknown) says.
func (c *Containerd) supportsRuntimePath(ctrd string, mainData []byte, exists bool) (bool, error) {
	if exists {
		m, err := decodeTOML(mainData)
		if err != nil {
			return false, fmt.Errorf("%s: %w", c.Config, err)
		}
		if v, err := configVersion(m); err == nil && v >= 3 {
			return true, nil
		}
	}
	if ctrd == "" {
		return false, nil
	}
	out, err := runContainerd(ctrd, "--version")
	if err != nil {
		return false, err
	}
	major, minor, ok := containerdVersion(string(out))
	if !ok {
		return false, fmt.Errorf("%w: cannot read the version in `%s --version`: %q", errInstall, ctrd, strings.TrimSpace(string(out)))
	}
	return major > 1 || major == 1 && minor >= 7, nil
}

// containerdVersion parses `containerd --version` ("containerd
// github.com/containerd/containerd 1.6.20~ds1 <commit>", "... v1.7.35 ...").
func containerdVersion(out string) (major, minor int, ok bool) {
	f := strings.Fields(out)
	if len(f) < 3 {
		return 0, 0, false
	}
	v := strings.TrimPrefix(f[2], "v")
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return 0, 0, false
	}
	return major, minor, true
}

// shimLink returns the containerd-shim-runcage-v2 link containerd 1.6
// needs to find Shim by name (none when Shim is that file or the link is
// there). ctrd is the containerd binary ("" when unknown).
func (c *Containerd) shimLink(w io.Writer, ctrd string) ([]link, error) {
	dir := c.ShimLinkDir
	if dir == "" {
		if ctrd == "" {
			say(w, "containerd binary unknown: make sure containerd finds %s as %s in its PATH or beside itself", c.Shim, ShimBinaryName)
			return nil, nil
		}
		if dir, _ = filepath.Abs(filepath.Dir(ctrd)); dir == "" {
			return nil, fmt.Errorf("%w: directory of %s", errInstall, ctrd)
		}
	}
	path := filepath.Join(dir, ShimBinaryName)
	if path == c.Shim {
		return nil, nil
	}
	l, err := needLink(path, c.Shim, c.Force)
	if err != nil || l == nil {
		return nil, err
	}
	return []link{*l}, nil
}

// optionsFile is one handler's options file that install must write.
type optionsFile struct {
	path      string
	old, data []byte
	existed   bool
}

// write replaces the file atomically, root-owned (install runs as root)
// and mode 0644, and checks that the shim will trust it.
func (o optionsFile) write() error {
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(o.path), err)
	}
	if err := spec.WriteFileAtomic(o.path, o.data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return spec.CheckTrustedOwned("shim options file", o.path, nil)
}

// optionsFiles returns the options files of the shim handlers that are
// missing or differ from what install writes.
func (c *Containerd) optionsFiles(hs []handler) ([]optionsFile, error) {
	var out []optionsFile
	for _, h := range hs {
		if h.Options == "" {
			continue
		}
		old, _, exists, err := readConfig(h.Options)
		if err != nil {
			return nil, err
		}
		data := c.options(h)
		if exists && bytes.Equal(old, data) {
			continue
		}
		out = append(out, optionsFile{path: h.Options, old: old, data: data, existed: exists})
	}
	return out, nil
}

// options renders the options file of a shim handler: the TOML the shim
// reads from its runtimeoptions.Options ConfigPath. It names the profile
// (none for "runcage": the policy's default) and the policy when it is not
// the one the shim reads by default.
func (c *Containerd) options(h handler) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by \"runcage install containerd\" for the CRI runtime handler %q:\n", h.Name)
	b.WriteString("# what containerd-shim-runcage-v2 reads (options ConfigPath). Re-run install\n# instead of editing: it is replaced on every install.\n")
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	if h.Profile != "" {
		fmt.Fprintf(&b, "profile = %s\n", q(h.Profile))
	}
	if c.PolicyPath != "" && c.PolicyPath != policy.DefaultPath {
		fmt.Fprintf(&b, "config = %s\n", q(c.PolicyPath))
	}
	return b.Bytes()
}

// putBack restores a file install replaced: the old bytes, or no file.
func putBack(path string, old []byte, perm fs.FileMode, existed bool) error {
	if !existed {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("roll back %s: %w", path, err)
		}
		return nil
	}
	if err := spec.WriteFileAtomic(path, old, perm); err != nil {
		return fmt.Errorf("roll back %s: %w", path, err)
	}
	return nil
}

// handler is one CRI runtime handler install registers, in the shim form
// (Options set) or the runc-binary form (Binary set).
type handler struct {
	Name    string
	Profile string // "" for the policy's default
	// Binary is the runc-binary form's BinaryName: the runcage binary or a
	// runcage-<profile> link.
	Binary string
	// Options is the shim form's options file (ConfigPath), RuntimePath its
	// runtime_path ("" for containerd 1.6, which finds the shim by name).
	Options, RuntimePath string
}

// handlers returns "runcage" and "runcage-<profile>" in the shim form when
// Shim is set (with runtime_path when runtimePath), else in the
// runc-binary form.
func (c *Containerd) handlers(runtimePath bool) []handler {
	hs := []handler{{Name: "runcage"}}
	for _, p := range c.Profiles {
		hs = append(hs, handler{Name: "runcage-" + p, Profile: p})
	}
	dir := filepath.Dir(c.Binary)
	for i := range hs {
		h := &hs[i]
		switch {
		case c.Shim == "" && h.Profile == "":
			h.Binary = c.Binary
		case c.Shim == "":
			h.Binary = filepath.Join(dir, h.Name)
		default:
			h.Options = filepath.Join(c.OptionsDir, h.Name+".toml")
			if runtimePath {
				h.RuntimePath = c.Shim
			}
		}
	}
	return hs
}

// entry is the handler's table under the CRI plugin's runtimes.
func (h handler) entry() map[string]any {
	if h.Options == "" {
		return map[string]any{
			"runtime_type":    runcRuntimeType,
			"pod_annotations": []any{"runcage.dev/*"},
			"options":         map[string]any{"BinaryName": h.Binary},
		}
	}
	e := map[string]any{
		"runtime_type":    ShimRuntimeType,
		"pod_annotations": []any{"runcage.dev/*"},
		"options":         map[string]any{"ConfigPath": h.Options},
	}
	if h.RuntimePath != "" {
		e["runtime_path"] = h.RuntimePath
	}
	return e
}

// link is a runcage-<profile> symlink install must create.
type link struct {
	path, target string
	replace      bool
}

// profileLinks returns the links still to make: runcage-<profile> beside
// the binary, pointing at the binary's base name. A link that already
// points there is left alone; anything else in the way is refused unless
// Force.
func (r Request) profileLinks() ([]link, error) {
	var out []link
	target := filepath.Base(r.Binary)
	for _, p := range r.Profiles {
		if err := policy.ValidName(p); err != nil {
			return nil, err
		}
		path := filepath.Join(filepath.Dir(r.Binary), "runcage-"+p)
		if path == r.Binary {
			return nil, fmt.Errorf("%w: the binary %s is itself named like the profile link for %q", errInstall, r.Binary, p)
		}
		l, err := needLink(path, target, r.Force)
		if err != nil {
			return nil, err
		}
		if l != nil {
			out = append(out, *l)
		}
	}
	return out, nil
}

// needLink returns the link to make at path to target: nil when it is
// there already; anything else in the way is refused unless force.
func needLink(path, target string, force bool) (*link, error) {
	cur, err := os.Readlink(path)
	switch {
	case err == nil && cur == target:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return &link{path: path, target: target}, nil
	case !force:
		return nil, fmt.Errorf("%w: %s exists and is not a symlink to %s (use --force to replace it)", errInstall, path, target)
	default:
		return &link{path: path, target: target, replace: true}, nil
	}
}

// make creates the link; a replacement is made beside it and renamed over
// the old file, so the name is never missing.
func (l link) make() error {
	if !l.replace {
		if err := os.Symlink(l.target, l.path); err != nil {
			return fmt.Errorf("create profile link: %w", err)
		}
		return nil
	}
	tmp := l.path + ".runcage-new"
	_ = os.Remove(tmp)
	if err := os.Symlink(l.target, tmp); err != nil {
		return fmt.Errorf("create profile link: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create profile link: %w", err)
	}
	return nil
}

// configVersion returns the main config's version (1 when absent, as
// containerd reads it).
func configVersion(m map[string]any) (int64, error) {
	v, ok := m["version"]
	if !ok {
		return 1, nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%w: version is not an integer", errInstall)
	}
	return n, nil
}

// decodeTOML parses a containerd config into a generic map.
func decodeTOML(data []byte) (map[string]any, error) {
	m := map[string]any{}
	if _, err := toml.Decode(string(data), &m); err != nil {
		return nil, fmt.Errorf("%w: parse TOML: %w", errInstall, err)
	}
	return m, nil
}

// buildDropin renders the drop-in for the main config mainData (absent
// when !exists): the main config's CRI plugin table, with the default runc
// handler made explicit when the table does not define it, and the runcage
// handlers. A runcage handler the main config defines differently is
// refused unless force.
func buildDropin(mainData []byte, exists bool, hs []handler, force bool) ([]byte, error) {
	m := map[string]any{}
	if exists {
		var err error
		if m, err = decodeTOML(mainData); err != nil {
			return nil, err
		}
	}
	ver := int64(2)
	if exists {
		var err error
		if ver, err = configVersion(m); err != nil {
			return nil, err
		}
	}
	key, ok := criPluginKey[ver]
	if !ok {
		return nil, fmt.Errorf("%w: config version %d is not supported (want 2 or 3; migrate a version 1 file with `containerd config migrate`)", errInstall, ver)
	}
	cri, err := subTable(m, "plugins", key)
	if err != nil {
		return nil, err
	}
	cri = deepCopy(cri).(map[string]any)
	ctd, err := subTable(cri, "containerd")
	if err != nil {
		return nil, err
	}
	runtimes, err := subTable(ctd, "runtimes")
	if err != nil {
		return nil, err
	}
	if _, ok := runtimes["runc"]; !ok {
		runtimes["runc"] = map[string]any{"runtime_type": "io.containerd.runc.v2"}
	}
	for _, h := range hs {
		want := h.entry()
		if cur, ok := runtimes[h.Name]; ok && !reflect.DeepEqual(cur, want) && !force {
			return nil, fmt.Errorf("%w: the main config already defines runtime handler %q differently (use --force to override it in the drop-in)", errInstall, h.Name)
		}
		runtimes[h.Name] = want
	}
	ctd["runtimes"] = runtimes
	cri["containerd"] = ctd
	out := map[string]any{
		"version": ver,
		"plugins": map[string]any{key: cri},
	}
	var b bytes.Buffer
	b.WriteString(dropinHeader)
	enc := toml.NewEncoder(&b)
	enc.Indent = "  "
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode drop-in: %w", err)
	}
	return b.Bytes(), nil
}

// subTable returns m[k1][k2]... as a table, creating missing ones in the
// returned value only (m itself is changed only for missing keys). A
// non-table value in the way is refused.
func subTable(m map[string]any, keys ...string) (map[string]any, error) {
	cur := m
	for i, k := range keys {
		v, ok := cur[k]
		if !ok {
			nm := map[string]any{}
			cur[k] = nm
			cur = nm
			continue
		}
		t, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a table", errInstall, strings.Join(keys[:i+1], "."))
		}
		cur = t
	}
	return cur, nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e).(map[string]any)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// ensureImport returns the main config text with an imports entry covering
// dropin. An existing config that already covers it is returned unchanged;
// otherwise exactly one edit is made (a new `imports = [...]` line after the
// top-level version line, or the path appended to the existing imports
// array) and the result is decoded again to prove that nothing but imports
// changed. A missing config becomes a minimal version 2 file.
func ensureImport(data []byte, exists bool, configPath, dropin string) ([]byte, error) {
	q, _ := json.Marshal(dropin) // a JSON string is a valid TOML basic string
	if !exists {
		return []byte("version = 2\nimports = [" + string(q) + "]\n"), nil
	}
	m, err := decodeTOML(data)
	if err != nil {
		return nil, err
	}
	var imports []string
	if v, ok := m["imports"]; ok {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: imports is not an array", errInstall)
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: imports holds a non-string", errInstall)
			}
			imports = append(imports, s)
		}
	}
	if importCovers(imports, filepath.Dir(configPath), dropin) {
		return data, nil
	}
	out, err := editImports(data, string(q))
	if err != nil {
		return nil, err
	}
	got, err := decodeTOML(out)
	if err != nil {
		return nil, fmt.Errorf("add imports entry: result does not parse (add %s to imports yourself): %w", q, err)
	}
	want := deepCopy(map[string]any(m)).(map[string]any)
	list := []any{}
	for _, s := range imports {
		list = append(list, s)
	}
	want["imports"] = append(list, dropin)
	if !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("%w: could not add an imports entry without changing anything else; add %s to imports yourself", errInstall, q)
	}
	return out, nil
}

// importCovers reports whether one of the imports (relative ones resolved
// against dir, globs matched as containerd matches them) names dropin.
func importCovers(imports []string, dir, dropin string) bool {
	for _, imp := range imports {
		if !filepath.IsAbs(imp) {
			imp = filepath.Join(dir, imp)
		}
		if imp == dropin {
			return true
		}
		if strings.ContainsAny(imp, "*?[") {
			if ok, _ := filepath.Match(imp, dropin); ok {
				return true
			}
		}
	}
	return false
}

// editImports makes the one text edit ensureImport needs. Only the part
// before the first table header is top level in TOML, so only that part is
// searched.
func editImports(data []byte, quoted string) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	off := 0
	versionEnd := -1
	for _, l := range lines {
		t := bytes.TrimLeft(l, " \t")
		if bytes.HasPrefix(t, []byte("[")) {
			break
		}
		if key := topKey(t); key == "imports" {
			open := off + bytes.IndexByte(l, '[')
			closeAt, lastEnd, err := arrayEnd(data, open)
			if err != nil {
				return nil, fmt.Errorf("%w: imports array: %w", errInstall, err)
			}
			e := textEdit{lastEnd, lastEnd, ", " + quoted}
			switch last := data[lastEnd-1]; {
			case last == '[':
				e = textEdit{closeAt, closeAt, quoted}
			case last == ',' && bytes.ContainsRune(data[lastEnd:closeAt], '\n'):
				// One element per line with a trailing comma: add a line.
				e.text = "\n" + leadingSpace(data, lastEnd-1) + quoted + ","
			case last == ',':
				e.text = " " + quoted
			}
			return applyEdits(data, []textEdit{e}), nil
		} else if key == "version" {
			versionEnd = off + len(l)
		}
		off += len(l)
	}
	line := "imports = [" + quoted + "]\n"
	if versionEnd < 0 {
		return append([]byte(line), data...), nil
	}
	if !bytes.HasSuffix(data[:versionEnd], []byte("\n")) {
		line = "\n" + line
	}
	return applyEdits(data, []textEdit{{versionEnd, versionEnd, line}}), nil
}

// topKey returns the bare key a TOML key/value line starts with, or "".
func topKey(line []byte) string {
	i := 0
	for i < len(line) && (line[i] == '_' || line[i] == '-' || line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z' || line[i] >= '0' && line[i] <= '9') {
		i++
	}
	rest := bytes.TrimLeft(line[i:], " \t")
	if i == 0 || !bytes.HasPrefix(rest, []byte("=")) {
		return ""
	}
	return string(line[:i])
}

// arrayEnd finds the ']' closing the TOML array that opens at data[open],
// skipping strings and comments. It returns its offset and the offset just
// after the last significant byte before it (open+1 for an empty array).
func arrayEnd(data []byte, open int) (closeAt, lastEnd int, err error) {
	if open < 0 || open >= len(data) || data[open] != '[' {
		return 0, 0, errors.New("not an inline array")
	}
	lastEnd = open + 1
	depth := 0
	for i := open; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'':
			if bytes.HasPrefix(data[i:], []byte{c, c, c}) {
				return 0, 0, errors.New("multi-line strings are not supported here")
			}
			j := i + 1
			for ; j < len(data) && data[j] != c && data[j] != '\n'; j++ {
				if c == '"' && data[j] == '\\' {
					j++
				}
			}
			if j >= len(data) || data[j] != c {
				return 0, 0, errors.New("unterminated string")
			}
			i = j
			lastEnd = j + 1
			continue
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				return i, lastEnd, nil
			}
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && i != open {
			lastEnd = i + 1
		}
	}
	return 0, 0, errors.New("unterminated array")
}

// dumpBefore returns containerd's effective config before the change. A
// missing main config is dumped as an empty version 2 file.
func (c *Containerd) dumpBefore(ctrd string, mainData []byte, exists bool) (map[string]any, error) {
	if exists {
		return dump(ctrd, c.Config)
	}
	dir, err := os.MkdirTemp("", "runcage-install-")
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte("version = 2\n"), 0o600); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return dump(ctrd, p)
}

// dump runs `ctrd --config path config dump` and parses its output.
func dump(ctrd, path string) (map[string]any, error) {
	out, err := runContainerd(ctrd, "--config", path, "config", "dump")
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	m := map[string]any{}
	if _, err := toml.Decode(string(out), &m); err != nil {
		return nil, fmt.Errorf("verify: parse containerd config dump: %w", err)
	}
	return m, nil
}

// runContainerd runs the containerd binary ctrd with args and a fixed
// environment, and returns its stdout; it gives up after 30 s.
func runContainerd(ctrd string, args ...string) ([]byte, error) {
	cmd := exec.Command(ctrd, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("containerd %s: %w", args[len(args)-1], err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("containerd %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("containerd %s timed out", strings.Join(args, " "))
	}
	return out.Bytes(), nil
}

// verify checks the effective config after the change: every handler is
// there with its binary and annotations, and nothing else differs from
// before (imports aside, and zero values counting as absent, since
// containerd decodes a missing key as its zero value).
func (c *Containerd) verify(ctrd string, before map[string]any, hs []handler) error {
	after, err := dump(ctrd, c.Config)
	if err != nil {
		return err
	}
	var missing []string
	for _, h := range hs {
		rt, ok := findRuntime(after, h.Name)
		if !ok {
			missing = append(missing, fmt.Sprintf("handler %q missing", h.Name))
			continue
		}
		if err := checkEntry(rt, h.entry()); err != nil {
			missing = append(missing, fmt.Sprintf("handler %q: %v", h.Name, err))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("verify: containerd's effective config lacks runcage's handlers (another import overrides the CRI table?): %s; both files were put back", strings.Join(missing, "; "))
	}
	a, b := normalizeDump(before), normalizeDump(after)
	if !reflect.DeepEqual(a, b) {
		var lines []string
		spec.Diff("", a, b, &lines)
		return fmt.Errorf("verify: the drop-in would change containerd's effective config beyond runcage's handlers (%s); both files were put back", strings.Join(lines, "; "))
	}
	return nil
}

// checkEntry checks a runtime handler of a config dump against the entry
// install wrote: every key equal, except that options may hold more keys
// (containerd may fill in defaults) as long as the written ones are equal.
func checkEntry(rt, want map[string]any) error {
	for k, v := range want {
		wopts, ok := v.(map[string]any)
		if !ok {
			if !reflect.DeepEqual(rt[k], v) {
				return fmt.Errorf("%s is %v, want %v", k, rt[k], v)
			}
			continue
		}
		opts, _ := rt[k].(map[string]any)
		for ok2, ov := range wopts {
			if opts[ok2] != ov {
				return fmt.Errorf("options.%s is %v, want %v", ok2, opts[ok2], ov)
			}
		}
	}
	return nil
}

// findRuntime returns the runtime handler called name in a config dump,
// wherever the CRI plugin of that containerd version keeps its runtimes.
func findRuntime(m map[string]any, name string) (map[string]any, bool) {
	plugins, _ := m["plugins"].(map[string]any)
	keys := make([]string, 0, len(plugins))
	for k := range plugins {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, _ := plugins[k].(map[string]any)
		ctd, _ := p["containerd"].(map[string]any)
		rts, _ := ctd["runtimes"].(map[string]any)
		if rt, ok := rts[name].(map[string]any); ok {
			return rt, true
		}
	}
	return nil, false
}

// normalizeDump drops what install is allowed to change (imports, the
// runcage handlers) and every zero value from a config dump.
func normalizeDump(m map[string]any) any {
	m = deepCopy(m).(map[string]any)
	delete(m, "imports")
	var walk func(path string, v any) any
	walk = func(path string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				if strings.HasSuffix(path, ".runtimes") && (k == "runcage" || strings.HasPrefix(k, "runcage-")) {
					continue
				}
				if w := walk(path+"."+k, e); w != nil {
					out[k] = w
				}
			}
			if len(out) == 0 {
				return nil
			}
			return out
		case []any:
			if len(x) == 0 {
				return nil
			}
			return x
		case []map[string]any:
			if len(x) == 0 {
				return nil
			}
			return x
		case string:
			if x == "" {
				return nil
			}
		case int64:
			if x == 0 {
				return nil
			}
		case float64:
			if x == 0 {
				return nil
			}
		case bool:
			if !x {
				return nil
			}
		}
		return v
	}
	return walk("", m)
}
