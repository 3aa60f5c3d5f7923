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
// "runcage-<profile>" in a drop-in file, creates the runcage-<profile> symlinks the handlers run
// (runcage picks the profile from the name it is called by), and makes sure
// the main config imports the drop-in.
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
	// Containerd is the containerd binary used to verify the merge; empty
	// skips verification.
	Containerd string
}

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
	handlers := c.handlers()
	dropin, err := buildDropin(mainData, mainExists, handlers, c.Force)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Config, err)
	}
	newMain, err := ensureImport(mainData, mainExists, c.Config, c.Dropin)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Config, err)
	}
	links, err := c.symlinks()
	if err != nil {
		return err
	}
	mainChanged := !mainExists || !bytes.Equal(newMain, mainData)
	dropinChanged := !dropinExists || !bytes.Equal(dropin, oldDropin)
	if !mainChanged && !dropinChanged && len(links) == 0 {
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
	verify := c.Containerd != ""
	if verify {
		if _, err := exec.LookPath(c.Containerd); err != nil {
			say(w, "containerd binary %q not found: the merged config is not verified with `containerd config dump`", c.Containerd)
			verify = false
		}
	}
	if verify {
		if before, err = c.dumpBefore(mainData, mainExists); err != nil {
			return err
		}
	}
	now := c.Now()
	restore := func() error { return nil }
	if dropinChanged {
		bak, err := writeWithBackup(c.Dropin, oldDropin, dropin, dropinPerm, dropinExists, now)
		if err != nil {
			return err
		}
		restore = func() error { return putBack(c.Dropin, oldDropin, dropinPerm, dropinExists) }
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
		if err := c.verify(before, handlers); err != nil {
			return errors.Join(err, restore())
		}
		say(w, "verified with `%s --config %s config dump`: only the runcage handlers were added", c.Containerd, c.Config)
	}
	say(w, "containerd reads its config only on start: restart it when convenient (`systemctl restart containerd`); nothing was restarted")
	say(w, "then: a RuntimeClass with handler: runcage (or runcage-<profile>), or ctr run --runtime io.containerd.runc.v2 --runc-binary %s", c.Binary)
	return nil
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

// handler is one CRI runtime handler install registers.
type handler struct {
	Name   string
	Binary string // BinaryName: the runcage binary or a runcage-<profile> link
}

func (c *Containerd) handlers() []handler {
	hs := []handler{{Name: "runcage", Binary: c.Binary}}
	dir := filepath.Dir(c.Binary)
	for _, p := range c.Profiles {
		hs = append(hs, handler{Name: "runcage-" + p, Binary: filepath.Join(dir, "runcage-"+p)})
	}
	return hs
}

// link is a runcage-<profile> symlink install must create.
type link struct {
	path, target string
	replace      bool
}

// symlinks returns the links still to make: runcage-<profile> beside the
// binary, pointing at the binary's base name. A link that already points
// there is left alone; anything else in the way is refused unless Force.
func (c *Containerd) symlinks() ([]link, error) {
	var out []link
	target := filepath.Base(c.Binary)
	for _, p := range c.Profiles {
		if err := policy.ValidName(p); err != nil {
			return nil, err
		}
		path := filepath.Join(filepath.Dir(c.Binary), "runcage-"+p)
		if path == c.Binary {
			return nil, fmt.Errorf("%w: the binary %s is itself named like the profile link for %q", errInstall, c.Binary, p)
		}
		cur, err := os.Readlink(path)
		switch {
		case err == nil && cur == target:
			continue
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, link{path: path, target: target})
		case !c.Force:
			return nil, fmt.Errorf("%w: %s exists and is not a symlink to %s (use --force to replace it)", errInstall, path, target)
		default:
			out = append(out, link{path: path, target: target, replace: true})
		}
	}
	return out, nil
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
		want := map[string]any{
			"runtime_type":    "io.containerd.runc.v2",
			"pod_annotations": []any{"runcage.dev/*"},
			"options":         map[string]any{"BinaryName": h.Binary},
		}
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
func (c *Containerd) dumpBefore(mainData []byte, exists bool) (map[string]any, error) {
	if exists {
		return c.dump(c.Config)
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
	return c.dump(p)
}

// dump runs `containerd --config path config dump` with a fixed
// environment and parses its output.
func (c *Containerd) dump(path string) (map[string]any, error) {
	cmd := exec.Command(c.Containerd, "--config", path, "config", "dump")
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("verify: containerd config dump: %w: %s", err, strings.TrimSpace(errb.String()))
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("verify: containerd config dump timed out")
	}
	m := map[string]any{}
	if _, err := toml.Decode(out.String(), &m); err != nil {
		return nil, fmt.Errorf("verify: parse containerd config dump: %w", err)
	}
	return m, nil
}

// verify checks the effective config after the change: every handler is
// there with its binary and annotations, and nothing else differs from
// before (imports aside, and zero values counting as absent, since
// containerd decodes a missing key as its zero value).
func (c *Containerd) verify(before map[string]any, hs []handler) error {
	after, err := c.dump(c.Config)
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
		opts, _ := rt["options"].(map[string]any)
		if rt["runtime_type"] != "io.containerd.runc.v2" || opts == nil || opts["BinaryName"] != h.Binary {
			missing = append(missing, fmt.Sprintf("handler %q has runtime_type %v, options %v", h.Name, rt["runtime_type"], opts))
		}
		if !reflect.DeepEqual(rt["pod_annotations"], []any{"runcage.dev/*"}) {
			missing = append(missing, fmt.Sprintf("handler %q has pod_annotations %v", h.Name, rt["pod_annotations"]))
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
