package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/caps"
	"github.com/runcage/runcage/profiles/seccomp"
)

// Files of a generated profile directory.
const (
	fileSeccomp  = "seccomp.json"
	fileAppArmor = "apparmor"
	fileProfile  = "profile.toml"
	// fileTrace is the merged input the profile was generated from. merge
	// and diff read it; the policy does not.
	fileTrace = "trace.json"
)

// inputInfo describes one input of a generated profile, for the comment header
// of profile.toml.
type inputInfo struct {
	// Path is the file the input came from.
	Path string
	// Format is what it was read as.
	Format Format
	// Syscalls is the number of syscalls it names.
	Syscalls int
}

// buildOptions says what buildProfile writes.
type buildOptions struct {
	// Name is the runcage profile name; the AppArmor profile is
	// runcage-Name. It must pass apparmor.ValidName.
	Name string
	// AllowDangerous includes what runtime/default denies (see Generated.
	// Dangerous) and capabilities beyond the engines' default set. Without
	// it they are left out, and listed in Generated.Excluded.
	AllowDangerous bool
	// Inputs are listed in the comment header of profile.toml.
	Inputs []inputInfo
	// RecordedOnly leaves out what profiles/analysis finds reachable from
	// the trace's Objects: the profile allows what was recorded (and
	// what every container needs, ReasonRuntime).
	RecordedOnly bool
	// Complain writes mode = "complain" instead of "enforce".
	Complain bool
	// NoLandlock writes no [landlock] table (see LandlockRules).
	NoLandlock bool
}

// Reasons a generated profile gives for allowing a syscall
// (Generated.Reasons, profile.toml's syscall_reasons).
const (
	// ReasonRecorded: the inputs show the workload making it.
	ReasonRecorded = "recorded"
	// ReasonRuntime: runc, every program's start-up or the vDSO's
	// fallbacks need it, whatever the workload (seccomp.AlwaysAllowed,
	// analysis.VDSOSyscalls).
	ReasonRuntime = "runtime"
	// ReasonStatic prefixes "static: OBJECT:FUNCTION": profiles/analysis
	// found it reachable from a function of an object the workload mapped.
	ReasonStatic = "static: "
)

// Generated is a profile generated from a trace: the bytes of every file
// of its directory, and what a user must be told about it.
type Generated struct {
	Name string
	// Trace is the merged input.
	Trace *Trace
	// Seccomp is the filter written to seccomp.json.
	Seccomp *specs.LinuxSeccomp
	// Capabilities are the capabilities profile.toml keeps.
	Capabilities []string
	// Dangerous are the syscalls and capabilities the trace shows that
	// runtime/default denies or that engines do not grant by default
	// (ptrace, mount, CAP_SYS_ADMIN, ...), sorted.
	Dangerous []string
	// Excluded are the Dangerous entries left out because
	// AllowDangerous was not set.
	Excluded []string
	// Warnings are other things the user should know (paths left out of
	// the AppArmor profile, socket families it cannot name).
	Warnings []string
	// Reasons maps every syscall the filter allows (seccomp.
	// AllowedSyscalls of Seccomp) to why: ReasonRecorded, ReasonRuntime or
	// ReasonStatic + "OBJECT:FUNCTION".
	Reasons map[string]string
	// Analysis is what the analysis of the trace's objects added, and
	// what it could not do.
	Analysis AnalysisSummary
	// Landlock is the [landlock] table of profile.toml (LandlockRules),
	// nil when none is written.
	Landlock *profiles.Landlock
	// Files maps each file name (fileSeccomp, fileAppArmor, fileProfile,
	// fileTrace) to its content.
	Files map[string][]byte
}

// buildProfile turns a trace into a runcage profile:
//
//   - seccomp.json: seccomp.FromSyscalls of the syscalls the trace shows
//     (Trace.Syscalls; never Trace.Denied), which adds what runc and every
//     program's start-up need. Syscalls runtime/default denies are included
//     only with AllowDangerous.
//   - apparmor: the profile runcage-Name from apparmor.Generate, with file
//     rules for the recorded paths (see fileRules) and network rules for
//     the recorded socket families. A trace that records no file at all
//     (audit and complain logs cannot) keeps the template's general file
//     access, and one that records neither files nor sockets keeps its
//     network rules: absence of evidence is not evidence of absence.
//   - profile.toml: the capabilities the trace proves necessary
//     (Trace.Capabilities, restricted to caps.Known; those beyond
//     caps.EngineDefault only with AllowDangerous), seccomp = "seccomp.json",
//     and everything else as the built-in profile "default", under a comment
//     header that names the inputs and explains the choices.
//   - profile.toml's [landlock] table: LandlockRules of the trace, unless
//     NoLandlock.
//   - trace.json: the trace itself.
//
// The output depends only on t and o: the same inputs give the same bytes.
func buildProfile(t *Trace, o buildOptions) (*Generated, error) {
	if err := apparmor.ValidName(o.Name); err != nil {
		return nil, fmt.Errorf("generate profile: %w", err)
	}
	if err := checkNames(t); err != nil {
		return nil, fmt.Errorf("generate profile %q: %w", o.Name, err)
	}
	g := &Generated{Name: o.Name, Trace: t, Files: map[string][]byte{}}

	seen := t.SyscallNames()
	beyond := seccomp.BeyondDefault(seen)
	g.Dangerous = append(g.Dangerous, beyond...)
	allowed := seen
	if !o.AllowDangerous {
		allowed = slices.DeleteFunc(slices.Clone(seen), func(n string) bool { return slices.Contains(beyond, n) })
		g.Excluded = append(g.Excluded, beyond...)
	}
	reasons := map[string]string{}
	for _, n := range allowed {
		reasons[n] = ReasonRecorded
	}
	if !o.RecordedOnly {
		g.Analysis = Reached(t)
		for n, r := range g.Analysis.Added {
			if _, ok := reasons[n]; !ok {
				reasons[n] = r
				allowed = append(allowed, n)
			}
		}
	}
	for _, n := range analysis.VDSOSyscalls {
		if _, ok := reasons[n]; !ok {
			reasons[n] = ReasonRuntime
			allowed = append(allowed, n)
		}
	}
	slices.Sort(allowed)
	filter, err := seccomp.FromSyscalls(allowed)
	if err != nil {
		return nil, fmt.Errorf("generate profile %q: %w", o.Name, err)
	}
	g.Seccomp = filter
	g.Reasons = map[string]string{}
	for _, n := range seccomp.AllowedSyscalls(filter) {
		r, ok := reasons[n]
		if !ok {
			r = ReasonRuntime
		}
		g.Reasons[n] = r
	}

	for _, c := range slices.Sorted(maps.Keys(t.Capabilities)) {
		if caps.CheckName(c) != nil {
			g.Warnings = append(g.Warnings, fmt.Sprintf("capability %q in the trace is not one the kernel defines; left out", printable(c)))
			continue
		}
		if !slices.Contains(caps.EngineDefault, c) {
			g.Dangerous = append(g.Dangerous, c)
			if !o.AllowDangerous {
				g.Excluded = append(g.Excluded, c)
				continue
			}
		}
		g.Capabilities = append(g.Capabilities, c)
	}
	slices.Sort(g.Dangerous)
	slices.Sort(g.Excluded)

	if !o.NoLandlock {
		var notes []string
		g.Landlock, notes = LandlockRules(t, !o.RecordedOnly)
		g.Warnings = append(g.Warnings, notes...)
	}

	aaOpts, warnings := appArmorOptions(o.Name, t)
	g.Warnings = append(g.Warnings, warnings...)
	aaText, err := apparmor.Generate(aaOpts)
	if err != nil {
		return nil, fmt.Errorf("generate profile %q: %w", o.Name, err)
	}
	g.Files[fileAppArmor] = aaText

	sj, err := json.MarshalIndent(filter, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("generate profile %q: encode seccomp filter: %w", o.Name, err)
	}
	g.Files[fileSeccomp] = append(sj, '\n')

	tj, err := t.Marshal()
	if err != nil {
		return nil, fmt.Errorf("generate profile %q: %w", o.Name, err)
	}
	g.Files[fileTrace] = tj
	g.Files[fileProfile], err = g.profileTOML(o)
	if err != nil {
		return nil, fmt.Errorf("generate profile %q: %w", o.Name, err)
	}
	return g, nil
}

// profileTOML writes profile.toml. Everything that comes from the inputs
// (paths, evidence) is quoted with %q, so that no input can end a comment
// line and add a setting.
//
// Its last table, syscall_reasons, gives the reason of every syscall the
// filter allows (Generated.Reasons); the TOML encoder quotes them.
func (g *Generated) profileTOML(o buildOptions) ([]byte, error) {
	var b bytes.Buffer
	t := g.Trace
	fmt.Fprintf(&b, "# runcage profile %q, generated by `runcage profile generate`.\n", g.Name)
	fmt.Fprintf(&b, "# Regenerate it, or use `runcage profile merge`, rather than edit it.\n#\n")
	if len(o.Inputs) > 0 {
		fmt.Fprintf(&b, "# Inputs, merged by union:\n")
		for _, in := range o.Inputs {
			fmt.Fprintf(&b, "#   %q (%s, %d syscalls)\n", in.Path, in.Format, in.Syscalls)
		}
	}
	if len(t.Containers) > 0 {
		fmt.Fprintf(&b, "# Recorded from containers: %s\n", quoteList(t.Containers, 10))
	}
	recorded, runtime, static := reasonCounts(g.Reasons)
	fmt.Fprintf(&b, "#\n# seccomp.json allows %d syscalls (see syscall_reasons at the end): %d the\n", len(g.Reasons), recorded)
	fmt.Fprintf(&b, "# inputs show (\"recorded\"), %d that runc makes after it loads the filter,\n", runtime)
	fmt.Fprintf(&b, "# that every program makes before main, or that the vDSO's clock functions\n")
	fmt.Fprintf(&b, "# fall back to (\"runtime\"), and %d that the code of the objects the\n", static)
	fmt.Fprintf(&b, "# workload mapped can make (\"static: OBJECT:FUNCTION\", found by\n")
	fmt.Fprintf(&b, "# profiles/analysis; --recorded-only leaves them out). It denies the rest\n")
	fmt.Fprintf(&b, "# with EPERM. Arguments are restricted as runtime/default restricts them\n")
	fmt.Fprintf(&b, "# (clone without namespace flags, clone3 answered with ENOSYS, ...).\n")
	if a := g.Analysis; len(a.Kinds) > 0 {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(a.Kinds)) {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, a.Kinds[k]))
		}
		fmt.Fprintf(&b, "#\n# Objects analysed, by kind: %s.\n", strings.Join(kinds, ", "))
		if len(a.Denied) > 0 {
			fmt.Fprintf(&b, "# Reachable in their code but NOT allowed, because runtime/default denies\n# them: %s\n", strings.Join(a.Denied, ", "))
		}
		for _, bl := range a.Blind {
			fmt.Fprintf(&b, "# Not analysed, only its recorded syscalls count: %q\n", bl)
		}
		for _, w := range a.Whole {
			fmt.Fprintf(&b, "# No call graph, every import counts: %q\n", w)
		}
	}
	if len(g.Dangerous) > 0 {
		if len(g.Excluded) > 0 {
			fmt.Fprintf(&b, "#\n# Seen but NOT allowed, because runtime/default denies them (or engines do\n")
			fmt.Fprintf(&b, "# not grant them) and --allow-dangerous was not given: %s\n", strings.Join(g.Excluded, ", "))
		} else {
			fmt.Fprintf(&b, "#\n# Allowed although runtime/default denies them (or engines do not grant\n")
			fmt.Fprintf(&b, "# them), because --allow-dangerous was given: %s\n", strings.Join(g.Dangerous, ", "))
		}
	}
	if len(t.Denied) > 0 {
		fmt.Fprintf(&b, "#\n# Denied while recording, and not allowed: %s\n", strings.Join(slices.Sorted(maps.Keys(t.Denied)), ", "))
	}
	fmt.Fprintf(&b, "#\n")
	if len(g.Capabilities) == 0 {
		fmt.Fprintf(&b, "# Capabilities: none; the inputs prove none necessary.\n")
	} else {
		fmt.Fprintf(&b, "# Capabilities kept, with the evidence that they were needed:\n")
		for _, c := range g.Capabilities {
			for _, ev := range t.Capabilities[c] {
				fmt.Fprintf(&b, "#   %s: %q\n", c, ev)
			}
		}
	}
	for _, w := range g.Warnings {
		fmt.Fprintf(&b, "# Note: %q\n", w)
	}
	fmt.Fprintf(&b, "#\n# Everything else is as in the built-in profile \"default\".\n\n")
	fmt.Fprintf(&b, "description = %s\n", strconv.Quote(fmt.Sprintf("generated from %d input(s): %d syscalls, %d capabilities", max(len(o.Inputs), 1), len(g.Reasons), len(g.Capabilities))))
	mode := profiles.ModeEnforce
	if o.Complain {
		mode = profiles.ModeComplain
	}
	fmt.Fprintf(&b, "mode = %q\n", mode)
	fmt.Fprintf(&b, "capabilities = [%s]\n", quoteList(g.Capabilities, len(g.Capabilities)))
	fmt.Fprintf(&b, "seccomp = %q\n", fileSeccomp)
	fmt.Fprintf(&b, "userns = \"required\"\n\n")
	fmt.Fprintf(&b, "[apparmor]\nmode = \"enforce\"\nrequire = \"if-available\"\n\n")
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if l := g.Landlock; l != nil {
		fmt.Fprintf(&b, "# Landlock: %d file rules from the recording's files, the objects it\n", len(l.FS))
		fmt.Fprintf(&b, "# mapped and a baseline (docs/landlock.md, \"Generated rules\").\n")
		fmt.Fprintf(&b, "# TCP bind: %s; connect: %s.\n", PortsText(l.Bind), PortsText(l.Connect))
		fmt.Fprintf(&b, "# Add with `runcage profile widen NAME --landlock-path PATH:ACCESS`\n")
		fmt.Fprintf(&b, "# or `--landlock-bind PORT`, `--landlock-connect PORT`.\n")
		if err := enc.Encode(struct {
			L *profiles.Landlock `toml:"landlock"`
		}{l}); err != nil {
			return nil, fmt.Errorf("encode landlock rules: %w", err)
		}
		b.WriteString("\n")
	}
	if err := enc.Encode(struct {
		Reasons map[string]string `toml:"syscall_reasons"`
	}{g.Reasons}); err != nil {
		return nil, fmt.Errorf("encode syscall reasons: %w", err)
	}
	return b.Bytes(), nil
}

// PortsText describes the bind or connect list of a Landlock table: "any
// port" (nil: not restricted), "no port" or the ports.
func PortsText(ports []int) string {
	switch {
	case ports == nil:
		return "any port"
	case len(ports) == 0:
		return "no port"
	}
	return fmt.Sprint(ports)
}

func quoteList(list []string, limit int) string {
	q := make([]string, 0, len(list))
	for i, s := range list {
		if i == limit {
			q = append(q, fmt.Sprintf("and %d more", len(list)-limit))
			break
		}
		q = append(q, strconv.Quote(s))
	}
	return strings.Join(q, ", ")
}

// appArmorFamilies maps socket families to their AppArmor names.
var appArmorFamilies = map[string]string{
	"AF_INET":    "inet",
	"AF_INET6":   "inet6",
	"AF_UNIX":    "unix",
	"AF_LOCAL":   "unix",
	"AF_NETLINK": "netlink",
	"AF_PACKET":  "packet",
}

// appArmorOptions builds the AppArmor options for t.
func appArmorOptions(name string, t *Trace) (apparmor.Options, []string) {
	o := apparmor.Options{Name: name}
	var warnings []string
	var rules []apparmor.FileRule
	rules, warnings = fileRules(t.Files)
	o.Rules = rules
	if len(t.Files) > 0 || len(t.Sockets) > 0 {
		o.RestrictNetwork = true
		for _, s := range t.Sockets {
			f, ok := appArmorFamilies[s.Family]
			if !ok {
				warnings = append(warnings, fmt.Sprintf("socket family %s has no AppArmor rule here; it stays denied", printable(s.Family)))
				continue
			}
			o.Networks = append(o.Networks, f)
		}
	}
	return o, warnings
}

// Well-known directory trees that fileRules covers with one "/**" rule.
var (
	// libTrees hold libraries and data that programs map and read.
	libTrees = []string{
		"/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libexec",
		"/usr/local/lib", "/usr/share", "/usr/local/share",
		"/lib", "/lib32", "/lib64", "/libx32",
	}
	// scratchTrees are where programs create files with varying names.
	scratchTrees = []string{"/tmp", "/var/tmp", "/dev/shm", "/run", "/var/run"}
	// kernelTrees are pseudo-filesystems whose paths contain pids and
	// other varying names; the template's deny rules keep applying.
	kernelTrees = []string{"/proc", "/sys"}
)

// usrMerged are the top-level directories that Debian, Fedora and others
// make symbolic links into /usr. AppArmor matches the resolved path, so a
// rule for /lib/x also gets /usr/lib/x.
var usrMerged = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// fileRules turns recorded paths into AppArmor file rules:
//
//   - Paths only ever stat'ed, access'ed or readlink'ed (access "s") get no
//     rule: AppArmor does not mediate those calls.
//   - A path executed gets PermExec; one written, created, deleted, made,
//     linked, or connected to as a unix socket gets PermWrite; one read
//     gets PermRead.
//   - Under /proc and /sys: one "/**" rule per permission (the template's
//     deny rules for /proc and /sys still apply). Under the library trees
//     (/usr/lib, /lib, /usr/share, ...) one "/**" rule per tree, with
//     PermExec if anything in it was executed or read (libraries are
//     mapped executable). Under the scratch trees (/tmp, /run, /dev/shm,
//     ...) one "/**" rule with PermWrite if anything was written.
//   - Elsewhere, written paths become "/*" of their directory (programs
//     write files with varying names next to each other; devices directly
//     in /dev stay literal), and a directory
//     with three or more read paths becomes "/*" of that directory; other
//     paths stay literal.
//   - Paths under /bin, /sbin, /lib* also get their /usr twins.
//   - A path apparmor.Generate would refuse (white space, quotes, glob
//     characters, ...) is replaced by "/*" of its directory if that
//     directory is acceptable, and dropped with a warning otherwise.
func fileRules(files []FileAccess) ([]apparmor.FileRule, []string) {
	type key struct{ path, suffix string }
	perms := map[key]string{}
	var warnings []string
	add := func(p, suffix, perm string) {
		k := key{p, suffix}
		perms[k] = strongerPerm(perms[k], perm)
	}
	readsPerDir := map[string][]string{}

	for _, f := range files {
		perm := permFor(f.Access)
		if perm == "" {
			continue
		}
		if procRelative(f.Path) {
			warnings = append(warnings, fmt.Sprintf("path %q is relative to a detached procfs (runc's private /proc), not a path of the container; left out", printable(f.Path)))
			continue
		}
		for _, p := range usrTwins(f.Path) {
			dirPath := strings.HasSuffix(p, "/") && p != "/"
			clean := path.Clean(p)
			if validRulePath(clean) != nil {
				dir := path.Dir(clean)
				if validRulePath(dir) != nil || dir == "/" {
					warnings = append(warnings, fmt.Sprintf("path %q cannot be written as an AppArmor rule; left out", printable(p)))
					continue
				}
				add(dir, apparmor.GlobChildren, perm)
				continue
			}
			if tree := under(clean, kernelTrees); tree != "" {
				add(tree, apparmor.GlobTree, kernelPerm(perm))
				continue
			}
			if tree := under(clean, libTrees); tree != "" && perm != apparmor.PermWrite {
				add(tree, apparmor.GlobTree, apparmor.PermExec)
				continue
			}
			if tree := under(clean, scratchTrees); tree != "" && perm == apparmor.PermWrite {
				add(tree, apparmor.GlobTree, apparmor.PermWrite)
				continue
			}
			if dirPath {
				add(clean+"/", apparmor.GlobNone, apparmor.PermRead)
				continue
			}
			switch perm {
			case apparmor.PermWrite:
				if dir := path.Dir(clean); dir != "/" && dir != "/dev" {
					add(dir, apparmor.GlobChildren, perm)
				} else {
					add(clean, apparmor.GlobNone, perm)
				}
			case apparmor.PermRead:
				readsPerDir[path.Dir(clean)] = append(readsPerDir[path.Dir(clean)], clean)
			default:
				add(clean, apparmor.GlobNone, perm)
			}
		}
	}
	for dir, list := range readsPerDir {
		slices.Sort(list)
		list = slices.Compact(list)
		if len(list) >= 3 && dir != "/" {
			add(dir, apparmor.GlobChildren, apparmor.PermRead)
			continue
		}
		for _, p := range list {
			add(p, apparmor.GlobNone, apparmor.PermRead)
		}
	}
	rules := make([]apparmor.FileRule, 0, len(perms))
	for k, p := range perms {
		rules = append(rules, apparmor.FileRule{Path: k.path, Suffix: k.suffix, Perms: p})
	}
	slices.SortFunc(rules, func(a, b apparmor.FileRule) int {
		return strings.Compare(a.Path+a.Suffix, b.Path+b.Suffix)
	})
	slices.Sort(warnings)
	return rules, slices.Compact(warnings)
}

// permFor maps FileAccess letters to an AppArmor permission, or "" for
// stat-only access.
func permFor(access string) string {
	switch {
	case strings.Contains(access, "x"):
		return apparmor.PermExec
	case strings.ContainsAny(access, "wcdmlu"):
		return apparmor.PermWrite
	case strings.Contains(access, "r"):
		return apparmor.PermRead
	}
	return ""
}

// strongerPerm returns the permission that includes both a and b.
func strongerPerm(a, b string) string {
	has := func(p string) bool { return a == p || b == p }
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	case has(apparmor.PermWriteExec), has(apparmor.PermWrite) && has(apparmor.PermExec):
		return apparmor.PermWriteExec
	case has(apparmor.PermWrite):
		return apparmor.PermWrite
	default:
		return apparmor.PermExec
	}
}

// kernelPerm limits a permission under /proc and /sys to read or write:
// nothing is executed from there (an exec of /proc/self/exe is checked
// against the file it resolves to).
func kernelPerm(perm string) string {
	if perm == apparmor.PermWrite {
		return perm
	}
	return apparmor.PermRead
}

func under(p string, trees []string) string {
	for _, t := range trees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return t
		}
	}
	return ""
}

func usrTwins(p string) []string {
	if under(path.Clean(p), usrMerged) != "" {
		return []string{p, "/usr" + p}
	}
	return []string{p}
}

// validRulePath checks p the way apparmor.Generate will.
func validRulePath(p string) error { return apparmor.ValidPath(p) }
