package engines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/runcage/runcage/runtime/spec"
)

// Docker is dockerd as an Engine (`runcage install docker`): Install
// merges runcage's runtimes into daemon.json.
type Docker struct {
	Request
	// Config is the daemon.json to merge into; it may not exist yet.
	Config string
	// Policy, when set, is passed to every runtime as --runcage-config.
	Policy string
}

// dockerRuntime is one entry of daemon.json's "runtimes" object, in the
// form dockerd 20.10 and later read.
type dockerRuntime struct {
	Path        string   `json:"path"`
	RuntimeArgs []string `json:"runtimeArgs,omitempty"`
}

// namedRuntime is a runtime entry with its name, in the order install
// writes them. Legacy, when set, is the value an earlier runcage install
// wrote for the same name, which install replaces without Force.
type namedRuntime struct {
	Name   string
	Value  dockerRuntime
	Legacy *dockerRuntime
}

// runtimes returns the entries install writes: "runcage" (the policy's
// default profile) running Binary, and "runcage-<profile>" for each profile
// running the runcage-<profile> link beside it, which selects the profile
// by its name. No runtimeArgs unless Policy is set: for a runtime with
// runtimeArgs dockerd writes a wrapper shell script and runs the runtime
// through it (one more process on every call). Each profile entry's Legacy
// is the form earlier installs wrote: Binary with
// --runcage-profile=<profile>.
func (d *Docker) runtimes() []namedRuntime {
	var base []string
	if d.Policy != "" {
		base = []string{"--runcage-config=" + d.Policy}
	}
	out := []namedRuntime{{Name: "runcage", Value: dockerRuntime{Path: d.Binary, RuntimeArgs: base}}}
	for _, p := range d.Profiles {
		legacy := dockerRuntime{Path: d.Binary, RuntimeArgs: append(append([]string(nil), base...), "--runcage-profile="+p)}
		out = append(out, namedRuntime{Name: "runcage-" + p, Legacy: &legacy,
			Value: dockerRuntime{Path: filepath.Join(filepath.Dir(d.Binary), "runcage-"+p), RuntimeArgs: base}})
	}
	return out
}

func (d *Docker) Install(w io.Writer) error {
	old, perm, exists, err := readConfig(d.Config)
	if err != nil {
		return err
	}
	out, report, err := mergeDaemonJSON(old, d.runtimes(), d.Force)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Config, err)
	}
	links, err := d.profileLinks()
	if err != nil {
		return err
	}
	for _, l := range report {
		say(w, "%s", l)
	}
	for _, l := range links {
		if err := l.make(); err != nil {
			return err
		}
		say(w, "symlink %s -> %s", l.path, l.target)
	}
	if exists && bytes.Equal(out, old) {
		say(w, "runcage is already installed in %s: nothing changed", d.Config)
		return nil
	}
	bak, err := writeWithBackup(d.Config, old, out, perm, exists, d.Now())
	if err != nil {
		return err
	}
	if bak != "" {
		say(w, "backup of the previous file: %s", bak)
	}
	say(w, "wrote %s", d.Config)
	say(w, "dockerd reads runtimes on start and on SIGHUP: reload it (`systemctl reload docker` or `kill -HUP $(pidof dockerd)`); nothing was restarted")
	say(w, "then: docker run --runtime runcage ... (or --runtime runcage-<profile>)")
	return nil
}

// mergeDaemonJSON adds the runtimes want to the daemon.json text data (nil:
// no file yet) and returns the new text and a line per runtime saying what
// happened to it. Every byte outside the inserted or replaced entries is
// kept, so comments-free formatting, key order, number spellings and every
// other runtime survive exactly. An existing entry of the same name that
// decodes to a different value is refused unless force is set, in which
// case only its value is replaced. Input that is not exactly one JSON
// object, has duplicate keys, or has a "runtimes" member that is not an
// object, is refused (wrapping errInstall). The result is decoded again
// and checked to equal the input plus the entries, so an edit can never
// change anything else.
func mergeDaemonJSON(data []byte, want []namedRuntime, force bool) ([]byte, []string, error) {
	var report []string
	if len(bytes.TrimSpace(data)) == 0 {
		var b bytes.Buffer
		b.WriteString("{\n  \"runtimes\": ")
		b.WriteString(renderRuntimes(want, "  ", "  "))
		b.WriteString("\n}\n")
		for _, r := range want {
			report = append(report, fmt.Sprintf("added runtime %q", r.Name))
		}
		return b.Bytes(), report, nil
	}
	if _, err := spec.ParseAs[map[string]json.RawMessage](data); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errInstall, err)
	}
	top, err := scanObject(data, firstNonSpace(data, 0))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errInstall, err)
	}
	var edits []textEdit
	rt := top.find("runtimes")
	switch {
	case rt == nil:
		val := renderRuntimes(want, top.memberIndent(data), top.unit(data))
		edits = append(edits, top.appendMember(data, "runtimes", val))
		for _, r := range want {
			report = append(report, fmt.Sprintf("added runtime %q", r.Name))
		}
	case data[rt.ValStart] != '{':
		return nil, nil, fmt.Errorf("%w: \"runtimes\" is not a JSON object", errInstall)
	default:
		obj, err := scanObject(data, rt.ValStart)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errInstall, err)
		}
		indent, unit := obj.memberIndent(data), obj.unit(data)
		if len(obj.Members) == 0 {
			// Nothing to copy the layout from: indent one level of the
			// file's own unit (tabs stay tabs).
			if u := top.unit(data); u != "" {
				unit = u
			}
			indent = leadingSpace(data, obj.Open) + unit
		}
		var add []namedRuntime
		for _, r := range want {
			m := obj.findExact(r.Name)
			if m == nil {
				add = append(add, r)
				report = append(report, fmt.Sprintf("added runtime %q", r.Name))
				continue
			}
			same, err := sameJSON(data[m.ValStart:m.ValEnd], r.Value)
			if err != nil {
				return nil, nil, err
			}
			legacy := false
			if !same && r.Legacy != nil {
				if legacy, err = sameJSON(data[m.ValStart:m.ValEnd], *r.Legacy); err != nil {
					return nil, nil, err
				}
			}
			switch {
			case same:
				report = append(report, fmt.Sprintf("runtime %q already installed", r.Name))
			case legacy:
				edits = append(edits, textEdit{m.ValStart, m.ValEnd, renderValue(r.Value, indent, unit)})
				report = append(report, fmt.Sprintf("updated runtime %q from the --runcage-profile form of earlier installs (was %s)", r.Name, compact(data[m.ValStart:m.ValEnd])))
			case !force:
				return nil, nil, fmt.Errorf("%w: runtime %q exists with a different value %s (use --force to replace it)", errInstall, r.Name, compact(data[m.ValStart:m.ValEnd]))
			default:
				edits = append(edits, textEdit{m.ValStart, m.ValEnd, renderValue(r.Value, indent, unit)})
				report = append(report, fmt.Sprintf("replaced runtime %q (was %s)", r.Name, compact(data[m.ValStart:m.ValEnd])))
			}
		}
		if len(add) > 0 {
			edits = append(edits, obj.appendMembers(data, add, indent, unit))
		}
	}
	out := applyEdits(data, edits)
	if err := checkDaemonMerge(data, out, want); err != nil {
		return nil, nil, err
	}
	return out, report, nil
}

// checkDaemonMerge proves that out decodes as in with exactly the entries
// of want set under "runtimes".
func checkDaemonMerge(in, out []byte, want []namedRuntime) error {
	var a, b map[string]any
	if err := decodeNumbers(in, &a); err != nil {
		return fmt.Errorf("check merge: %w", err)
	}
	if err := decodeNumbers(out, &b); err != nil {
		return fmt.Errorf("check merge: merged file does not parse: %w", err)
	}
	key := "runtimes"
	for k := range a {
		if strings.EqualFold(k, key) {
			key = k
		}
	}
	rts, _ := a[key].(map[string]any)
	if rts == nil {
		rts = map[string]any{}
	}
	for _, r := range want {
		raw, _ := json.Marshal(r.Value)
		var v any
		if err := decodeNumbers(raw, &v); err != nil {
			return fmt.Errorf("check merge: %w", err)
		}
		rts[r.Name] = v
	}
	a[key] = rts
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("check merge: the merged daemon.json differs from the original in more than the runcage runtimes (a bug; nothing written)")
	}
	return nil
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// sameJSON reports whether raw decodes to the same value as v.
func sameJSON(raw []byte, v any) (bool, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("encode runtime: %w", err)
	}
	var a, b any
	if err := decodeNumbers(raw, &a); err != nil {
		return false, fmt.Errorf("%w: %w", errInstall, err)
	}
	if err := decodeNumbers(enc, &b); err != nil {
		return false, err
	}
	return reflect.DeepEqual(a, b), nil
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// renderValue renders v as indented JSON whose first line continues the
// current line and whose later lines start with indent.
func renderValue(v any, indent, unit string) string {
	if unit == "" { // single-line object: stay on one line
		b, _ := json.Marshal(v)
		return strings.ReplaceAll(strings.ReplaceAll(string(b), `":`, `": `), `","`, `", "`)
	}
	b, _ := json.MarshalIndent(v, indent, unit)
	return string(b)
}

// renderRuntimes renders a "runtimes" object holding rs, whose member
// lines are indented by indent+unit and whose closing brace by indent.
func renderRuntimes(rs []namedRuntime, indent, unit string) string {
	if unit == "" {
		parts := make([]string, len(rs))
		for i, r := range rs {
			k, _ := json.Marshal(r.Name)
			parts[i] = string(k) + ": " + renderValue(r.Value, "", "")
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	var b strings.Builder
	b.WriteString("{")
	for i, r := range rs {
		if i > 0 {
			b.WriteString(",")
		}
		k, _ := json.Marshal(r.Name)
		b.WriteString("\n" + indent + unit + string(k) + ": " + renderValue(r.Value, indent+unit, unit))
	}
	b.WriteString("\n" + indent + "}")
	return b.String()
}

// jsonMember locates one member of a JSON object in the file's bytes.
type jsonMember = spec.ObjectMember

// jsonObject is an object of daemon.json located by spec.ScanObject, with
// the lookups and edits install makes to it.
type jsonObject struct{ spec.Object }

// scanObject locates the object starting at data[off] and its members.
func scanObject(data []byte, off int) (*jsonObject, error) {
	o, err := spec.ScanObject(data, off)
	if err != nil {
		return nil, err
	}
	return &jsonObject{*o}, nil
}

func firstNonSpace(data []byte, i int) int {
	for i < len(data) && strings.IndexByte(" \t\r\n", data[i]) >= 0 {
		i++
	}
	return i
}

// find returns the member whose key matches name as encoding/json (and so
// dockerd) matches struct fields: exactly, else ignoring case.
func (o *jsonObject) find(name string) *jsonMember {
	if m := o.findExact(name); m != nil {
		return m
	}
	for i := range o.Members {
		if strings.EqualFold(o.Members[i].Key, name) {
			return &o.Members[i]
		}
	}
	return nil
}

func (o *jsonObject) findExact(name string) *jsonMember {
	for i := range o.Members {
		if o.Members[i].Key == name {
			return &o.Members[i]
		}
	}
	return nil
}

// lineIndent returns the whitespace that starts the line holding data[i],
// and whether only whitespace precedes data[i] on that line.
func lineIndent(data []byte, i int) (string, bool) {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	pre := data[start:i]
	if len(bytes.TrimLeft(pre, " \t")) != 0 {
		return "", false
	}
	return string(pre), true
}

// memberIndent is the indentation of the object's members: that of its
// first member when it starts its own line, else the object's own line
// indentation plus two spaces.
func (o *jsonObject) memberIndent(data []byte) string {
	if len(o.Members) > 0 {
		if ind, ok := lineIndent(data, o.Members[0].KeyStart); ok {
			return ind
		}
		return ""
	}
	ind, _ := lineIndent(data, o.Open)
	if !onOwnLine(data, o.Open) {
		ind = leadingSpace(data, o.Open)
	}
	return ind + "  "
}

// unit is one level of indentation for values inside the object; "" means
// the object is written on one line.
func (o *jsonObject) unit(data []byte) string {
	if len(o.Members) > 0 {
		if _, ok := lineIndent(data, o.Members[0].KeyStart); !ok {
			return ""
		}
		outer := leadingSpace(data, o.Open)
		inner := o.memberIndent(data)
		if strings.HasPrefix(inner, outer) && len(inner) > len(outer) {
			return inner[len(outer):]
		}
	}
	return "  "
}

func onOwnLine(data []byte, i int) bool {
	_, ok := lineIndent(data, i)
	return ok
}

// leadingSpace is the whitespace at the start of the line holding data[i].
func leadingSpace(data []byte, i int) string {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	j := start
	for j < len(data) && (data[j] == ' ' || data[j] == '\t') {
		j++
	}
	return string(data[start:j])
}

// appendMember returns the edit that adds "key": val (val already
// rendered) as the object's last member.
func (o *jsonObject) appendMember(data []byte, key, val string) textEdit {
	k, _ := json.Marshal(key)
	indent := o.memberIndent(data)
	if len(o.Members) == 0 {
		outer := leadingSpace(data, o.Open)
		return textEdit{o.Open + 1, o.Close, "\n" + indent + string(k) + ": " + val + "\n" + outer}
	}
	last := o.Members[len(o.Members)-1]
	if o.unit(data) == "" {
		return textEdit{last.ValEnd, last.ValEnd, ", " + string(k) + ": " + val}
	}
	return textEdit{last.ValEnd, last.ValEnd, ",\n" + indent + string(k) + ": " + val}
}

// appendMembers returns the edit that adds the runtimes rs after the
// object's last member, with member lines indented by indent and unit as
// one level ("" keeps a one-line object on one line).
func (o *jsonObject) appendMembers(data []byte, rs []namedRuntime, indent, unit string) textEdit {
	parts := make([]string, len(rs))
	for i, r := range rs {
		k, _ := json.Marshal(r.Name)
		parts[i] = string(k) + ": " + renderValue(r.Value, indent, unit)
	}
	if len(o.Members) == 0 {
		outer := leadingSpace(data, o.Open)
		return textEdit{o.Open + 1, o.Close, "\n" + indent + strings.Join(parts, ",\n"+indent) + "\n" + outer}
	}
	last := o.Members[len(o.Members)-1]
	if unit == "" {
		return textEdit{last.ValEnd, last.ValEnd, ", " + strings.Join(parts, ", ")}
	}
	return textEdit{last.ValEnd, last.ValEnd, ",\n" + indent + strings.Join(parts, ",\n"+indent)}
}

// textEdit replaces data[start:end] with text.
type textEdit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits to a copy of data.
func applyEdits(data []byte, edits []textEdit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), data...)
	for _, e := range edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out
}
