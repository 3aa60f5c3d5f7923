package runtime

// This file scans a runc command line the way runc v1.5.2 reads it, so that
// runcage rewrites the same bundle and the same process file that runc will
// then use. runc parses with urfave/cli v1 on top of Go's flag package; the
// rules copied here are:
//
//   - Global flags come first and are read with Go's flag rules: "-name" and
//     "--name" are the same flag, a value flag takes "=value" or the next
//     argument whatever it looks like, a bool flag never takes the next
//     argument but accepts "=true"/"=false", and "--" ends the flags. The first
//     argument that is not a flag is the verb.
//   - A verb's own flags are read the same way, after urfave's reordering:
//     known flags (and the argument after each one that has no "=") are moved
//     in front of the other arguments, so "create ID --bundle B" works. The
//     verbs marked SkipArgReorder in runc (exec, ps) are not reordered, so for
//     them everything from the container id on is the command.
//   - Two spellings of one flag ("-b X --bundle Y") are an error; the same
//     spelling twice is not, and the last value wins.
//
// Anything runc would accept is scanned the way runc reads it. Anything runc
// v1.5.2 would refuse is either refused here too, or forwarded for runc to
// refuse (see Scan).

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Scan. They are wrapped with the argument at fault; use
// errors.Is to classify them.
var (
	// ErrEmptyArgv means argv had no elements at all, not even argv[0].
	ErrEmptyArgv = errors.New("empty argv")
	// ErrMissingValue means a flag that takes a value was the last argument.
	ErrMissingValue = errors.New("flag needs a value")
	// ErrEmptyValue means a runcage flag was given an empty value.
	ErrEmptyValue = errors.New("flag value is empty")
	// ErrBadFlagSyntax means an argument such as "---x" or "-=x", which Go's
	// flag package, and so runc, refuses.
	ErrBadFlagSyntax = errors.New("bad flag syntax")
	// ErrBadBool means a bool flag was given a value strconv.ParseBool
	// refuses, as in "--debug=yes".
	ErrBadBool = errors.New("invalid boolean value")
	// ErrBadNumber means a numeric flag (--pids-limit, --preserve-fds,
	// --additional-gids, --interval, ...) was given a value runc cannot
	// parse.
	ErrBadNumber = errors.New("invalid numeric value")
	// ErrUnknownFlag means a global flag named "runcage-..." that is not
	// one of runcage's.
	ErrUnknownFlag = errors.New("unknown flag")
	// ErrMisplacedFlag means a runcage flag was given after the verb.
	ErrMisplacedFlag = errors.New("runcage flags must come before the verb")
	// ErrConflictingFlags means two spellings of one flag ("-b" and
	// "--bundle"), which runc refuses, or a runcage flag given twice.
	ErrConflictingFlags = errors.New("conflicting flags")
	// ErrNoProcessFlag is returned by Invocation.WithExecProcess when there
	// is no --process value to replace.
	ErrNoProcessFlag = errors.New("no exec --process flag")
)

// Invocation is the result of scanning one runc command line. Scan fills it
// and nothing else should; callers read it, and build the delegate's argv
// from Argv0 (or the delegate's path) and Args.
type Invocation struct {
	// Argv0 is argv[0] as given.
	Argv0 string
	// Args is the argv to hand to the delegate, argv[1:] with runcage's own
	// flags (and their values) removed. Every other element is kept, byte for
	// byte and in order. It is a fresh slice, never argv's backing array.
	Args []string
	// Verb is the verb runc will run: "create", "run", "exec", ..., or a word
	// runcage does not know, which is forwarded. It is "" when runc runs no
	// verb: none was given (or an empty word), or a global -h/--help or
	// -v/--version makes runc print text and exit.
	Verb string
	// VerbIndex is the index of Verb in Args, -1 when Verb is "".
	VerbIndex int
	// Global holds the global flags, which come before the verb.
	Global GlobalFlags
	// Bundle is the -b/--bundle value for create, run and restore, as
	// given (it may be relative to the working directory). "" means not
	// given or given empty; runc then uses the working directory, and so
	// must the caller.
	Bundle string
	// ContainerID is the first positional argument after the verb, for the
	// verbs that take a container id; "" if none.
	ContainerID string
	// Version is true when -v/--version was given as a global flag. runc
	// then prints its version and runs no verb.
	Version bool
	// Help is true when -h/--help was given, globally or to the verb. runc
	// then prints usage and runs nothing.
	Help bool
	// Exec holds what matters about "exec"'s flags; nil for other verbs.
	Exec *ExecFlags
	// Resources is update's -r/--resources value: a file, or "-" for
	// standard input. "" when not given; runc treats an empty value the
	// same. When it is set, runc ignores update's other flags.
	Resources string
	// PidsLimit is update's --pids-limit value, nil when not given.
	PidsLimit *int64
	// VerbFlags lists, in the order runc reads them, the flags given to a
	// verb runcage knows. It is empty for unknown verbs and when Verb is "".
	VerbFlags []VerbFlag
}

// GlobalFlags holds runc's global flags and runcage's own.
type GlobalFlags struct {
	// Root, Log, LogFormat, Rootless and Criu are the values of --root,
	// --log, --log-format, --rootless and --criu (an older runc's flag,
	// still scanned as one that takes a value). The last one given wins, as
	// in runc.
	Root, Log, LogFormat, Rootless, Criu string
	// RootSet, LogSet, ... are true when the flag was given, even with an
	// empty value.
	RootSet, LogSet, LogFormatSet, RootlessSet, CriuSet bool
	// Debug and SystemdCgroup are the bool flags --debug and
	// --systemd-cgroup.
	Debug, SystemdCgroup bool
	// RuncageProfile and RuncageConfig are runcage's own --runcage-profile
	// and --runcage-config. They are never empty when given, and they are
	// stripped from Invocation.Args.
	RuncageProfile, RuncageConfig string
	// Unknown lists, as given, the global flags runcage does not know, such
	// as a newer runc's. They are forwarded. Since runcage cannot know
	// whether such a flag takes a value, "--name=value" is taken as one
	// whole flag and a bare "--name" as a bool flag that takes no value. If
	// a newer delegate reads a bare unknown flag as taking the next argument
	// as its value, it will disagree with Scan about the verb, so a caller
	// that needs certainty should refuse when Unknown is not empty.
	Unknown []string
}

// ExecFlags holds the flags of "runc exec" that decide what the new process
// may do. When Process is non-empty runc reads the whole process from that
// file and ignores --cap, --apparmor, --no-new-privs, --process-label,
// --user, --cwd, --env, --tty and Command; otherwise it starts from the
// container's config.json process and applies them.
type ExecFlags struct {
	// Process is the -p/--process value: a process.json file.
	Process string
	// ProcessIndex is the index in Invocation.Args of the element holding
	// Process, -1 if none. When ProcessInline is true that element is the
	// whole "--process=FILE"; otherwise it is FILE alone. WithExecProcess
	// replaces it either way.
	ProcessIndex int
	// ProcessInline is true when Process was given in "name=value" form.
	ProcessInline bool
	// Caps lists every --cap/-c value, in order.
	Caps []string
	// AppArmor is the --apparmor value; AppArmorSet is true when given.
	AppArmor    string
	AppArmorSet bool
	// NoNewPrivs is nil when --no-new-privs was not given, and otherwise
	// points to its value, so "--no-new-privs=false" is an explicit false.
	NoNewPrivs *bool
	// ProcessLabel is the --process-label value; ProcessLabelSet is true
	// when given.
	ProcessLabel    string
	ProcessLabelSet bool
	// User is the -u/--user value ("uid[:gid]"), Cwd the --cwd value.
	User string
	Cwd  string
	// Env lists every -e/--env value, in order.
	Env []string
	// Tty and Detach are -t/--tty and -d/--detach.
	Tty, Detach bool
	// Command is the command and its arguments, after the container id.
	Command []string
}

// VerbFlag is one flag given to a verb.
type VerbFlag struct {
	// Name is the flag's first name in runc ("bundle" for "-b"), or the
	// name as written for a flag runcage does not know.
	Name string
	// Value is the value given. For a known bool flag it is "true" or
	// "false"; for an unknown flag it is the text after "=", if any.
	Value string
	// Index is the index in Invocation.Args of the flag itself.
	Index int
	// ValueIndex is the index in Invocation.Args of the element holding
	// the value: the separate value's own index, or Index itself for
	// "name=value" and for bool flags. After urfave's reordering the
	// separate value need not be at Index+1.
	ValueIndex int
	// Unknown is true for a flag runcage does not know, forwarded as a
	// bool flag (see GlobalFlags.Unknown).
	Unknown bool
}

// WithExecProcess returns a copy of inv.Args in which exec's --process file
// is path, in the same spelling ("-p F", "--process=F", ...) as given. It
// returns ErrNoProcessFlag when inv is not an exec with a --process flag.
func (inv *Invocation) WithExecProcess(path string) ([]string, error) {
	if inv.Exec == nil || inv.Exec.ProcessIndex < 0 {
		return nil, ErrNoProcessFlag
	}
	if path == "" {
		return nil, fmt.Errorf("replace exec process: %w", ErrEmptyValue)
	}
	out := slices.Clone(inv.Args)
	i := inv.Exec.ProcessIndex
	if inv.Exec.ProcessInline {
		name, _, _ := strings.Cut(out[i], "=")
		out[i] = name + "=" + path
	} else {
		out[i] = path
	}
	return out, nil
}

// argvRuncagePrefix starts the name of each of runcage's own flags; no runc
// flag starts so.
const argvRuncagePrefix = "runcage-"

// argvKind says whether a flag takes a value.
type argvKind uint8

const (
	argvBool     argvKind = iota + 1 // never takes the next argument
	argvValue                        // takes "=value" or the next argument
	argvInt                          // a value; urfave IntFlag, Go's flag.Int
	argvInt64                        // a value; urfave Int64SliceFlag, base 10
	argvDuration                     // a value; urfave DurationFlag, time.ParseDuration
)

// argvFlag is one flag of runc: its names, first the canonical one, and kind.
type argvFlag struct {
	names []string
	kind  argvKind
}

// argvFlagSet is a flag table with a name index.
type argvFlagSet struct {
	flags  []argvFlag
	byName map[string]int
}

func newArgvFlagSet(flags ...argvFlag) *argvFlagSet {
	s := &argvFlagSet{flags: flags, byName: make(map[string]int)}
	for i, f := range flags {
		for _, n := range f.names {
			s.byName[n] = i
		}
	}
	return s
}

func (s *argvFlagSet) lookup(name string) (int, bool) {
	i, ok := s.byName[name]
	return i, ok
}

// argvVerb describes how runc reads one verb's arguments.
type argvVerb struct {
	flags *argvFlagSet
	// noReorder is urfave's SkipArgReorder.
	noReorder bool
	// takesID is true when the first positional argument is a container id.
	takesID bool
	// exactArgs, when >= 0, and minArgs are runc's positional counts; a
	// surplus tells Scan that a bare unknown flag took a value.
	exactArgs, minArgs int
}

// argvFlags builds a flag table from a compact spec: space-separated
// entries "name[,alias...][=kind]", where kind is s (string or string
// slice), i (int), i64 (int64 slice) or d (duration), and no kind means bool.
// urfave's help flag is added to every table. A bad spec is a programming
// error and panics at package initialisation.
func argvFlags(spec string) *argvFlagSet {
	kinds := map[string]argvKind{"": argvBool, "s": argvValue, "i": argvInt, "i64": argvInt64, "d": argvDuration}
	var flags []argvFlag
	for _, e := range strings.Fields(spec) {
		names, kind, _ := strings.Cut(e, "=")
		k, ok := kinds[kind]
		if !ok {
			panic("runtime: bad flag spec " + e)
		}
		flags = append(flags, argvFlag{names: strings.Split(names, ","), kind: k})
	}
	flags = append(flags, argvFlag{names: []string{"help", "h"}, kind: argvBool})
	return newArgvFlagSet(flags...)
}

// argvGlobal is runc v1.5.2's global flag table (main.go), plus urfave's
// version flag (and help, added by argvFlags), plus --criu, which older runc
// versions had and older go-runc passes.
var argvGlobal = argvFlags("debug log=s log-format=s root=s systemd-cgroup rootless=s criu=s version,v")

// argvVerbs is runc v1.5.2's verb table, from each verb's source file.
var argvVerbs = map[string]*argvVerb{
	"checkpoint": {takesID: true, exactArgs: -1, flags: argvFlags(
		"image-path=s work-path=s parent-path=s leave-running tcp-established " +
			"tcp-skip-in-flight link-remap ext-unix-sk shell-job lazy-pages status-fd=i " +
			"page-server=s file-locks pre-dump manage-cgroups-mode=s empty-ns=s auto-dedup")},
	"create": {takesID: true, exactArgs: 1, flags: argvFlags(
		"bundle,b=s console-socket=s pidfd-socket=s pid-file=s no-pivot no-new-keyring " +
			"preserve-fds=i")},
	"delete": {takesID: true, exactArgs: -1, flags: argvFlags("force,f")},
	"events": {takesID: true, exactArgs: -1, flags: argvFlags("interval=d stats")},
	"exec": {takesID: true, noReorder: true, exactArgs: -1, minArgs: 1, flags: argvFlags(
		"console-socket=s pidfd-socket=s cwd=s env,e=s tty,t user,u=s additional-gids,g=i64 " +
			"process,p=s detach,d pid-file=s process-label=s apparmor=s no-new-privs cap,c=s " +
			"preserve-fds=i cgroup=s ignore-paused")},
	"features": {exactArgs: -1, flags: argvFlags("")},
	"kill":     {takesID: true, exactArgs: -1, flags: argvFlags("all,a")},
	"list":     {exactArgs: -1, flags: argvFlags("format,f=s quiet,q")},
	"pause":    {takesID: true, exactArgs: -1, flags: argvFlags("")},
	"ps":       {takesID: true, noReorder: true, exactArgs: -1, flags: argvFlags("format,f=s")},
	"restore": {takesID: true, exactArgs: 1, flags: argvFlags(
		"console-socket=s image-path=s work-path=s tcp-established ext-unix-sk shell-job " +
			"file-locks manage-cgroups-mode=s bundle,b=s detach,d pid-file=s no-subreaper " +
			"no-pivot empty-ns=s auto-dedup lazy-pages lsm-profile=s lsm-mount-context=s")},
	"resume": {takesID: true, exactArgs: -1, flags: argvFlags("")},
	"run": {takesID: true, exactArgs: 1, flags: argvFlags(
		"bundle,b=s console-socket=s pidfd-socket=s detach,d keep pid-file=s no-subreaper " +
			"no-pivot no-new-keyring preserve-fds=i")},
	"spec":  {exactArgs: -1, flags: argvFlags("bundle,b=s rootless")},
	"start": {takesID: true, exactArgs: -1, flags: argvFlags("")},
	"state": {takesID: true, exactArgs: -1, flags: argvFlags("")},
	"update": {takesID: true, exactArgs: 1, flags: argvFlags(
		"resources,r=s blkio-weight=i cpu-period=s cpu-quota=s cpu-burst=s cpu-share=s " +
			"cpu-rt-period=s cpu-rt-runtime=s cpuset-cpus=s cpuset-mems=s kernel-memory=s " +
			"kernel-memory-tcp=s memory=s cpu-idle=s memory-reservation=s memory-swap=s " +
			"pids-limit=i l3-cache-schema=s mem-bw-schema=s")},
}

// Scan reads a runc command line, argv including argv[0], and returns what
// runc will do with it. It never panics and never changes argv.
//
// runcage's own flags, --runcage-profile NAME and --runcage-config PATH (in
// any of Go's spellings: "--x V", "--x=V", "-x V", "-x=V"), are recognised
// only before the verb, and are removed from Args with their values. Their
// value must be non-empty, and in the separate form must not start with
// "-". Giving one twice is an error.
//
// Global flags runcage does not know are forwarded; see GlobalFlags.Unknown.
// Verbs runcage does not know are forwarded with their arguments unread.
//
// For the verbs runcage acts on (create, run, restore, exec, update) Scan
// refuses the malformed flags of runc's own flags that runc would refuse
// too (ErrMissingValue, ErrConflictingFlags, ErrBadBool, ErrBadNumber,
// ErrBadFlagSyntax), before anything is rewritten, so that the bundle and
// process file runcage reads are the ones runc will read. Flags of a newer
// runc are forwarded, never rejected: a bare unknown flag is read as a bool,
// and if that leaves a positional argument too many, the container id is
// taken as the last one (where every caller puts it). A wrong number of
// positional arguments is forwarded for runc to report. A runcage flag after any known verb
// is ErrMisplacedFlag. On error the Invocation is nil.
func Scan(argv []string) (*Invocation, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("scan argv: %w", ErrEmptyArgv)
	}
	inv := &Invocation{
		Argv0:     argv[0],
		Args:      make([]string, 0, len(argv)-1),
		VerbIndex: -1,
	}
	in := argv[1:]
	seen := make(map[int]string) // flag index -> name first used, for conflicts
	i := 0
	for i < len(in) {
		s := in[i]
		if len(s) < 2 || s[0] != '-' {
			break // the verb
		}
		if s == "--" {
			inv.Args = append(inv.Args, s)
			i++
			break
		}
		name, value, hasValue, err := argvSplitFlag(s)
		if err != nil {
			return nil, fmt.Errorf("scan argv: %q: %w", s, err)
		}
		if strings.HasPrefix(name, argvRuncagePrefix) {
			if !argvIsRuncageFlag(name) {
				return nil, fmt.Errorf("scan argv: %q: %w", s, ErrUnknownFlag)
			}
			n, err := inv.takeRuncageFlag(in, i, name, value, hasValue)
			if err != nil {
				return nil, err
			}
			i += n
			continue
		}
		fi, known := argvGlobal.lookup(name)
		if !known {
			inv.Global.Unknown = append(inv.Global.Unknown, s)
			inv.Args = append(inv.Args, s)
			i++
			continue
		}
		if err := argvCheckConflict(seen, fi, name); err != nil {
			return nil, fmt.Errorf("scan argv: %q: %w", s, err)
		}
		f := argvGlobal.flags[fi]
		inv.Args = append(inv.Args, s)
		i++
		if f.kind == argvBool {
			b, err := argvBoolValue(value, hasValue)
			if err != nil {
				return nil, fmt.Errorf("scan argv: %q: %w", s, err)
			}
			inv.setGlobalBool(f.names[0], b)
			continue
		}
		if !hasValue {
			if i >= len(in) {
				return nil, fmt.Errorf("scan argv: %q: %w", s, ErrMissingValue)
			}
			value = in[i]
			inv.Args = append(inv.Args, value)
			i++
		}
		inv.setGlobalValue(f.names[0], value)
	}
	// Everything from here on belongs to the verb and is kept as is.
	if i < len(in) && in[i] != "" {
		// An empty word names no command: runc prints its usage.
		inv.Verb = in[i]
		inv.VerbIndex = len(inv.Args)
	}
	inv.Args = append(inv.Args, in[i:]...)

	if inv.Help || inv.Version {
		// runc prints and exits before it looks at the verb.
		inv.Verb, inv.VerbIndex = "", -1
		return inv, nil
	}
	if inv.Verb == "" {
		return inv, nil
	}
	v, ok := argvVerbs[inv.Verb]
	if !ok {
		return inv, nil
	}
	if err := inv.scanVerb(v); err != nil {
		return nil, fmt.Errorf("scan %s arguments: %w", argvPrintable(inv.Verb), err)
	}
	return inv, nil
}

// argvIsRuncageFlag reports whether name is one of runcage's own flags.
func argvIsRuncageFlag(name string) bool {
	return name == "runcage-profile" || name == "runcage-config"
}

// takeRuncageFlag records runcage flag name found at in[i] and returns how
// many arguments it used.
func (inv *Invocation) takeRuncageFlag(in []string, i int, name, value string, hasValue bool) (int, error) {
	s := in[i]
	n := 1
	if !hasValue {
		if i+1 >= len(in) || strings.HasPrefix(in[i+1], "-") {
			return 0, fmt.Errorf("scan argv: %q: %w", s, ErrMissingValue)
		}
		value = in[i+1]
		n = 2
	}
	if value == "" {
		return 0, fmt.Errorf("scan argv: %q: %w", s, ErrEmptyValue)
	}
	dst := &inv.Global.RuncageProfile
	if name == "runcage-config" {
		dst = &inv.Global.RuncageConfig
	}
	if *dst != "" {
		return 0, fmt.Errorf("scan argv: --%s given twice: %w", name, ErrConflictingFlags)
	}
	*dst = value
	return n, nil
}

func (inv *Invocation) setGlobalBool(name string, b bool) {
	g := &inv.Global
	switch name {
	case "debug":
		g.Debug = b
	case "systemd-cgroup":
		g.SystemdCgroup = b
	case "help":
		inv.Help = b
	case "version":
		inv.Version = b
	}
}

func (inv *Invocation) setGlobalValue(name, value string) {
	g := &inv.Global
	switch name {
	case "log":
		g.Log, g.LogSet = value, true
	case "log-format":
		g.LogFormat, g.LogFormatSet = value, true
	case "root":
		g.Root, g.RootSet = value, true
	case "rootless":
		g.Rootless, g.RootlessSet = value, true
	case "criu":
		g.Criu, g.CriuSet = value, true
	}
}

// scanVerb reads the arguments after inv.VerbIndex as runc reads them for
// verb v, and fills the verb's fields.
func (inv *Invocation) scanVerb(v *argvVerb) error {
	args := inv.Args
	seq := make([]int, 0, len(args)-inv.VerbIndex-1)
	for k := inv.VerbIndex + 1; k < len(args); k++ {
		seq = append(seq, k)
	}
	if !v.noReorder {
		seq = argvReorder(args, seq, v.flags)
	}
	seen := make(map[int]string)
	j := 0
	for j < len(seq) {
		s := args[seq[j]]
		if len(s) < 2 || s[0] != '-' {
			break
		}
		if s == "--" {
			j++
			break
		}
		name, value, hasValue, err := argvSplitFlag(s)
		if err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		vfl := VerbFlag{Name: name, Index: seq[j], ValueIndex: seq[j]}
		j++
		fi, known := v.flags.lookup(name)
		if !known {
			if strings.HasPrefix(name, argvRuncagePrefix) {
				return fmt.Errorf("%q: %w", s, ErrMisplacedFlag)
			}
			// A flag from a newer runc: forward it, never reject it. A
			// bare one is read as a bool (see the id rule below).
			vfl.Unknown = true
			vfl.Value = value
			inv.VerbFlags = append(inv.VerbFlags, vfl)
			continue
		}
		if err := argvCheckConflict(seen, fi, name); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		f := v.flags.flags[fi]
		vfl.Name = f.names[0]
		if f.kind == argvBool {
			b, err := argvBoolValue(value, hasValue)
			if err != nil {
				return fmt.Errorf("%q: %w", s, err)
			}
			vfl.Value = strconv.FormatBool(b)
		} else {
			if !hasValue {
				if j >= len(seq) {
					return fmt.Errorf("%q: %w", s, ErrMissingValue)
				}
				vfl.ValueIndex = seq[j]
				value = args[seq[j]]
				j++
			}
			if err := argvCheckNumber(f.kind, value); err != nil {
				return fmt.Errorf("%q: %w", s, err)
			}
			vfl.Value = value
		}
		inv.VerbFlags = append(inv.VerbFlags, vfl)
	}
	pos := seq[j:]

	if inv.Verb == "exec" {
		inv.Exec = &ExecFlags{ProcessIndex: -1}
	}
	for _, f := range inv.VerbFlags {
		if f.Unknown {
			continue
		}
		inv.applyVerbFlag(f)
	}
	if inv.Help {
		return nil // runc prints the verb's usage and stops
	}
	if v.takesID && len(pos) > 0 {
		inv.ContainerID = args[pos[0]]
		// A bare unknown flag that in fact took a value leaves one
		// positional too many; every caller puts the id last, so take it.
		if v.exactArgs > 0 && len(pos) > v.exactArgs && inv.hasBareUnknown() {
			inv.ContainerID = args[pos[len(pos)-1]]
		}
	}
	if inv.Exec != nil && len(pos) > 1 {
		for _, k := range pos[1:] {
			inv.Exec.Command = append(inv.Exec.Command, args[k])
		}
	}
	// A wrong number of arguments is runc's to report: it refuses the
	// command line itself, after runcage has at most hardened the bundle.
	return nil
}

// hasBareUnknown reports whether a verb flag runcage does not know was given
// without an "=value", so that it may have consumed the next argument.
func (inv *Invocation) hasBareUnknown() bool {
	for _, f := range inv.VerbFlags {
		if f.Unknown && f.Value == "" {
			return true
		}
	}
	return false
}

// applyVerbFlag copies one known verb flag into inv's fields.
func (inv *Invocation) applyVerbFlag(f VerbFlag) {
	if f.Name == "help" {
		inv.Help = f.Value == "true"
		return
	}
	switch inv.Verb {
	case "create", "run", "restore":
		if f.Name == "bundle" {
			inv.Bundle = f.Value
		}
	case "update":
		switch f.Name {
		case "resources":
			inv.Resources = f.Value
		case "pids-limit":
			// Checked by argvCheckNumber already.
			n, _ := strconv.ParseInt(f.Value, 0, strconv.IntSize)
			inv.PidsLimit = &n
		}
	case "exec":
		e := inv.Exec
		switch f.Name {
		case "process":
			e.Process = f.Value
			e.ProcessIndex = f.ValueIndex
			e.ProcessInline = f.ValueIndex == f.Index
		case "cap":
			e.Caps = append(e.Caps, f.Value)
		case "apparmor":
			e.AppArmor, e.AppArmorSet = f.Value, true
		case "no-new-privs":
			b := f.Value == "true"
			e.NoNewPrivs = &b
		case "process-label":
			e.ProcessLabel, e.ProcessLabelSet = f.Value, true
		case "user":
			e.User = f.Value
		case "cwd":
			e.Cwd = f.Value
		case "env":
			e.Env = append(e.Env, f.Value)
		case "tty":
			e.Tty = f.Value == "true"
		case "detach":
			e.Detach = f.Value == "true"
		}
	}
}

// argvSplitFlag splits a flag argument s (len(s) >= 2, s[0] == '-', s !=
// "--") the way Go's flag package does.
func argvSplitFlag(s string) (name, value string, hasValue bool, err error) {
	name = s[1:]
	if name[0] == '-' {
		name = name[1:]
	}
	if name == "" || name[0] == '-' || name[0] == '=' {
		return "", "", false, ErrBadFlagSyntax
	}
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue, nil
}

// argvBoolValue is the value of a bool flag given as "-x" or "-x=value".
func argvBoolValue(value string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		return false, fmt.Errorf("%q: %w", value, ErrBadBool)
	}
	return b, nil
}

// argvCheckNumber checks value as Go's flag package and urfave/cli v1 parse
// a flag of kind k.
func argvCheckNumber(k argvKind, value string) error {
	var err error
	switch k {
	case argvInt:
		_, err = strconv.ParseInt(value, 0, strconv.IntSize)
	case argvInt64:
		_, err = strconv.ParseInt(value, 10, 64)
	case argvDuration:
		_, err = time.ParseDuration(value)
	}
	if err != nil {
		return fmt.Errorf("%q: %w", value, ErrBadNumber)
	}
	return nil
}

// argvCheckConflict records that flag fi was given as name, and fails when it
// was given before under another of its names, as urfave's normalizeFlags
// does.
func argvCheckConflict(seen map[int]string, fi int, name string) error {
	if prev, ok := seen[fi]; ok && prev != name {
		return fmt.Errorf("-%s and -%s: %w", prev, name, ErrConflictingFlags)
	}
	seen[fi] = name
	return nil
}

// argvReorder returns the indices seq (into args) in the order urfave/cli v1
// hands them to the flag parser: flags known to set, each followed by the
// next argument if that is not itself a known flag and the flag has no "=",
// then the rest in order. A "--" that is not taken as a value stops the
// reordering and goes first among the rest.
func argvReorder(args []string, seq []int, set *argvFlagSet) []int {
	var flags, rest []int
	mayTakeValue := false
	for k, i := range seq {
		a := args[i]
		switch {
		case mayTakeValue && !argvIsKnownFlag(a, set):
			mayTakeValue = false
			flags = append(flags, i)
		case a == "--":
			tail := make([]int, 0, 1+len(rest)+len(seq)-k-1)
			tail = append(tail, i)
			tail = append(tail, rest...)
			rest = append(tail, seq[k+1:]...)
			return append(flags, rest...)
		case argvIsKnownFlag(a, set):
			flags = append(flags, i)
			mayTakeValue = !strings.Contains(a, "=")
		default:
			rest = append(rest, i)
		}
	}
	return append(flags, rest...)
}

// argvIsKnownFlag reports whether urfave/cli v1 would move a as a flag of
// set: it strips up to three leading dashes and anything from the first "=".
func argvIsKnownFlag(a string, set *argvFlagSet) bool {
	if a == "-" || a == "--" || !strings.HasPrefix(a, "-") {
		return false
	}
	n := strings.TrimPrefix(a, "-")
	n = strings.TrimPrefix(n, "-")
	n = strings.TrimPrefix(n, "-")
	n, _, _ = strings.Cut(n, "=")
	_, ok := set.lookup(n)
	return ok
}

// argvPrintable quotes s only when it needs quoting, for error messages.
func argvPrintable(s string) string {
	q := strconv.Quote(s)
	if q[1:len(q)-1] == s && s != "" && !strings.ContainsAny(s, " \t") {
		return s
	}
	return q
}

// flagSet reports whether the known bool verb flag name (its long name) was
// given as true.
func (inv *Invocation) flagSet(name string) bool {
	for _, f := range inv.VerbFlags {
		if !f.Unknown && f.Name == name && f.Value == "true" {
			return true
		}
	}
	return false
}
