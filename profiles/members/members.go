// Package members treats config.json as a closed world. It holds, as data,
// runcage's decision for every member of the runtime-spec v1.3.0 config
// (Table), and Check refuses a bundle that carries a member the table does
// not know or refuses, naming the member. runc acts on members runcage never
// looked at (linux.netDevices moved a host interface into a container), and
// it ignores members it does not know, so the only safe default for a member
// nobody decided is to refuse it.
//
// Check reads the raw bytes of config.json, not the typed specs.Spec: the
// typed view drops members it does not know, and those are exactly the ones
// a newer delegate could act on. It matches member names the way
// encoding/json, and so runc, does: case-insensitively, with Unicode simple
// folding ("LINUX", "netDeviceſ").
package members

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/runcage/runcage/profiles"
)

// Kind is what runcage does with a member in the default profile.
type Kind int

const (
	// Allowed: runc acts on the member, and what it does cannot reach
	// beyond the container's own namespaces and cgroup. Kept as is.
	Allowed Kind = iota + 1
	// Tightened: runcage checks or rewrites the member; Decision.Why says
	// how and which package does it.
	Tightened
	// Refused: a bundle carrying the member is refused.
	Refused
	// NotLinux: runc on Linux ignores the member (a windows, solaris, vm,
	// zos or freebsd section). A present one in a Linux bundle is refused:
	// it is at best noise, and another delegate might act on it.
	NotLinux
)

func (k Kind) String() string {
	switch k {
	case Allowed:
		return "allowed"
	case Tightened:
		return "tightened"
	case Refused:
		return "refused"
	case NotLinux:
		return "refused (not Linux)"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Decision is runcage's decision for one member path.
//
// Paths use the JSON member names of runtime-spec v1.3.0, joined by ".";
// "[]" stands for every element of an array ("mounts[].destination") and
// "*" for every key of a map ("annotations.*", "linux.sysctl.*").
type Decision struct {
	Path string
	Kind Kind
	// Why is one line: what runc does with the member and why the decision
	// is safe, or how it is tightened and by which package.
	Why string
	// Absent, when set, says what runc does when the member is absent and
	// how runcage decides that case.
	Absent string
	// check, when set, is applied by Check to the member's value (key is
	// the map key for "*" paths). It returns the reason for a refusal.
	check func(c *checker, key string, v any) error
}

// Options are what Check needs from the policy and the host.
type Options struct {
	// Allowed lists member paths the profile lets through as they are,
	// with everything below them (the profile's allowed_members). A path
	// may name a member the table does not know ("linux.fooBar").
	Allowed []string
	// StateDir is runcage's state directory: a seccomp listener under its
	// "agents" directory is runcage's own recorder.
	StateDir string
}

// tables returns index, which maps every table path to its decision, and
// children, which maps a path to the member names below it (for
// case-insensitive matching). They are built on first use, not at init:
// every runcage invocation links this package, and only create uses it.
var tables = sync.OnceValues(buildIndex)

func buildIndex() (index map[string]*Decision, children map[string][]string) {
	index, children = map[string]*Decision{}, map[string][]string{}
	table := Table()
	for i := range table {
		d := &table[i]
		if _, dup := index[d.Path]; dup {
			panic("members: duplicate table entry " + d.Path)
		}
		index[d.Path] = d
	}
	for p := range index {
		parent, name := split(p)
		children[parent] = append(children[parent], name)
	}
	for _, c := range children {
		sort.Strings(c)
	}
	return index, children
}

// split returns the parent path of p and its last element ("[]" and "*"
// are elements of their own).
func split(p string) (parent, name string) {
	if strings.HasSuffix(p, "[]") {
		return strings.TrimSuffix(p, "[]"), "[]"
	}
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func join(parent, name string) string {
	switch {
	case name == "[]":
		return parent + "[]"
	case parent == "":
		return name
	}
	return parent + "." + name
}

// Lookup returns the decision for path, or nil when the table has none.
func Lookup(path string) *Decision {
	index, _ := tables()
	return index[path]
}

var pathRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\[\])?(\.([A-Za-z][A-Za-z0-9_]*|\*)(\[\])?)*$`)

// ValidateAllowed checks an allowed_members list from a policy: each entry
// must be a member path in the table's syntax. It may name a member the
// table does not know.
func ValidateAllowed(paths []string) error {
	for _, p := range paths {
		if !pathRE.MatchString(p) {
			return fmt.Errorf("allowed_members: %q is not a config.json member path (such as \"linux.intelRdt\")", p)
		}
	}
	return nil
}

// Check returns a refusal (errors.Is(err, profiles.ErrRefused)) naming the
// first member of the config.json bytes raw (in sorted key order, depth
// first) that is
// not in Table, that the table refuses, or whose value its check refuses,
// unless opts.Allowed names the member or one above it. A member whose
// value is null counts as absent, as it does for runc. Check must see the
// bundle's own bytes, before any modifier ran. It decides presence only;
// absent members are decided by the modifiers (see Decision.Absent).
func Check(raw []byte, opts Options) error {
	return check(raw, "", opts)
}

// CheckProcess is Check for a `runc exec --process` file: raw is a
// process object, checked against the table's "process" members.
func CheckProcess(raw []byte, opts Options) error {
	return check(raw, "process", opts)
}

// CheckResources is Check for a `runc update --resources` file: raw is a
// linux.resources object, checked against the table's "linux.resources"
// members.
func CheckResources(raw []byte, opts Options) error {
	return check(raw, "linux.resources", opts)
}

func check(raw []byte, root string, opts Options) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("check config members: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("check config members: trailing data after the JSON value")
	}
	c := &checker{opts: opts, root: v}
	return c.walk(root, root, v)
}

// object is a decoded JSON object.
type object = map[string]any

// get returns the member of o that encoding/json would decode into a field
// called name: the exact key, else a case-insensitive match.
func get(o object, name string) (any, bool) {
	if v, ok := o[name]; ok {
		return v, true
	}
	for k, v := range o {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

type checker struct {
	opts Options
	root any
}

// allowed reports whether the profile lets path through.
func (c *checker) allowed(path string) bool {
	return slices.Contains(c.opts.Allowed, path)
}

type field struct {
	key   string
	value any
}

// match finds the table name under parent that key decodes into, as
// encoding/json matches: exactly, else case-insensitively.
func match(parent, key string) (string, bool) {
	_, children := tables()
	names := children[parent]
	if slices.Contains(names, key) {
		return key, true
	}
	for _, n := range names {
		if n != "*" && n != "[]" && strings.EqualFold(n, key) {
			return n, true
		}
	}
	return "", false
}

// walk checks the members of v, which sits at table path path and is
// shown in messages as shown.
func (c *checker) walk(path, shown string, v any) error {
	_, children := tables()
	switch v := v.(type) {
	case object:
		mapKeys := slices.Contains(children[path], "*")
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := field{key: k, value: v[k]}
			if f.value == nil {
				continue // null: absent, for runc too
			}
			var (
				name, key string
				ok        bool
			)
			if mapKeys {
				name, key, ok = "*", f.key, true
			} else {
				name, ok = match(path, f.key)
			}
			sub := join(path, name)
			subShown := join(shown, f.key)
			if !ok {
				if c.allowed(join(path, f.key)) {
					continue
				}
				return profiles.Refusef("config.json member %q refused: runcage has no decision for it (not a runtime-spec v1.3.0 member it knows; runc may act on it); name it in the profile's allowed_members to accept it", subShown)
			}
			if err := c.member(sub, subShown, key, f.value); err != nil {
				return err
			}
		}
	case []any:
		if !slices.Contains(children[path], "[]") {
			return nil
		}
		for i, e := range v {
			if e == nil {
				continue
			}
			if err := c.member(path+"[]", fmt.Sprintf("%s[%d]", shown, i), "", e); err != nil {
				return err
			}
		}
	}
	return nil
}

// member applies the decision for path to its value v and descends.
func (c *checker) member(path, shown, key string, v any) error {
	if c.allowed(path) {
		return nil
	}
	index, _ := tables()
	d := index[path]
	switch d.Kind {
	case Refused, NotLinux:
		return profiles.Refusef("config.json member %q refused: %s", shown, d.Why)
	}
	if d.check != nil {
		if err := d.check(c, key, v); err != nil {
			return profiles.Refusef("config.json member %q refused: %s", shown, err)
		}
	}
	return c.walk(path, shown, v)
}
