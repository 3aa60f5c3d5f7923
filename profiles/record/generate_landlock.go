package record

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
)

// landlockBaseline are the file rules every generated Landlock table
// carries whatever the recording shows (docs/landlock.md says why each).
var landlockBaseline = []profiles.LandlockPath{
	{Path: "/dev/null", Access: []string{"read", "write"}},
	{Path: "/dev/zero", Access: []string{"read"}},
	{Path: "/dev/random", Access: []string{"read"}},
	{Path: "/dev/urandom", Access: []string{"read"}},
	{Path: "/dev/tty", Access: []string{"read", "write", "ioctl-dev"}},
	{Path: "/etc/ld.so.cache", Access: []string{"read"}},
}

// maxGeneratedRules bounds the file rules of a generated table: past it,
// the files of the directory with the most rules become one rule on that
// directory, until the table fits. Each rule costs the helper an open and
// a landlock_add_rule at every start, and a trace may hold 20000 paths.
const maxGeneratedRules = 1024

// LandlockRules turns the evidence of t into a Landlock table, as narrow as
// the evidence and, with widen, the generalisations of widenData
// (docs/landlock.md, "Generated rules"):
//
//   - a path read, written or executed gets a rule on itself (read, write,
//     execute); a path listed (access e), or read while it holds another
//     recorded path (a directory opened for reading), gets list on itself;
//     a device under /dev that was used also gets ioctl-dev;
//   - a path created (c, m, l, u) or removed (d) gives its directory create
//     (make-sock for u) or remove, except "/" (the recorder sees calls
//     before they run, and mkdir -p tries every ancestor); a created file
//     did not exist when the rules were made, so its directory also gets
//     what the file got (read, write);
//   - every object the workload mapped (t.Objects, paths the kernel
//     rendered, free of symlinks) gets execute on itself: one rule per
//     object rather than one on its directory, since a library directory
//     holds hundreds of libraries the workload never mapped;
//   - paths under /proc and /sys become one rule on /proc or /sys (their
//     names hold pids; Landlock cannot name a process's own files);
//   - paths under /bin, /sbin and /lib* also get their /usr twin: the helper
//     follows no symlink, and on merged-/usr images only the twin is real;
//   - where a rename or link may have crossed directories (a link or
//     rename target, and targets and removed files in more than one
//     directory), those directories get refer;
//   - a bind or connect port becomes a port rule; bind and connect are
//     restricted (bind = [] when nothing was bound) unless a bind to port 0
//     (an ephemeral port, which no rule can name) was recorded, which
//     leaves bind unrestricted;
//   - with widen, the directories of the workload's data files get rules
//     of their own (widenData); without it (--recorded-only) only what
//     was recorded counts;
//   - Grants are added as they are; the baseline (landlockBaseline) is
//     always added.
//
// It returns nil with a note when t cannot support rules: a trace whose
// producer does not record ports and directory listings
// (PortsAndListings false: imported logs, older recordings), or that
// records no file at all, has no evidence that what it lacks was not
// done. Warnings say what was left out. The result passes landlock.Check.
func LandlockRules(t *Trace, widen bool) (*profiles.Landlock, []string) {
	if !t.PortsAndListings || len(t.Files)+len(t.Objects) == 0 {
		return nil, []string{"no Landlock rules: the inputs do not record directory listings and ports (only recordings by runcage's agent do), so what they lack is no evidence"}
	}
	var warnings []string
	rights := map[string]map[string]bool{}
	grant := func(p string, access ...string) {
		if len(access) == 0 {
			return
		}
		for _, q := range usrTwins(p) {
			if rights[q] == nil {
				rights[q] = map[string]bool{}
			}
			for _, a := range access {
				rights[q][a] = true
			}
		}
	}
	// A path that holds another recorded path is a directory: opening it
	// for reading (to list it, or to fsync it) needs list, not read.
	dirs := map[string]bool{}
	for _, f := range t.Files {
		for d := path.Dir(f.Path); !dirs[d] && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	// The directories of link or rename targets and removed files, and
	// whether there was a target: the evidence for refer.
	renamed, renameTarget := map[string]bool{}, false
	for _, f := range t.Files {
		p := f.Path
		if procRelative(p) {
			continue // appArmorOptions warns about these already
		}
		if err := landlockPath(p); err != nil {
			warnings = append(warnings, fmt.Sprintf("path %q left out of the Landlock rules: %v", printable(p), err))
			continue
		}
		if tree := under(p, kernelTrees); tree != "" {
			p = tree
		}
		var own []string
		for _, c := range f.Access {
			switch c {
			case 'r':
				if dirs[f.Path] {
					own = append(own, "list")
				} else {
					own = append(own, "read")
				}
			case 'w':
				own = append(own, "write")
			case 'x':
				own = append(own, "execute")
			case 'e':
				own = append(own, "list")
			}
		}
		if len(own) > 0 && strings.HasPrefix(p, "/dev/") && !slices.Contains(own, "list") {
			own = append(own, "ioctl-dev")
		}
		if under(p, kernelTrees) != "" {
			// Nothing is executed from there: an exec of
			// /proc/self/exe or /proc/self/fd/N is checked on the file
			// it resolves to, which the objects cover.
			grant(p, slices.DeleteFunc(own, func(a string) bool { return a == "execute" })...)
			continue
		}
		grant(p, own...)
		dir := path.Dir(p)
		if dir == "/" {
			// The recorder sees calls before they run: `mkdir -p /run/x`
			// tries mkdir("/run") too. A rule on / would grant its rights
			// on every file; creating at the top is left to a widen.
			continue
		}
		if strings.ContainsAny(f.Access, "cml") {
			grant(dir, "create")
			grant(dir, slices.DeleteFunc(own, func(a string) bool { return a == "list" || a == "ioctl-dev" })...)
		}
		if strings.ContainsRune(f.Access, 'u') {
			grant(dir, "make-sock")
		}
		if strings.ContainsRune(f.Access, 'd') {
			grant(dir, "remove")
		}
		if strings.ContainsAny(f.Access, "ld") {
			renamed[dir] = true
			renameTarget = renameTarget || strings.ContainsRune(f.Access, 'l')
		}
		if widen {
			widenData(grant, f, dir, dirs[f.Path])
		}
	}
	// A rename or link into another directory (a reparenting, which
	// Landlock refuses with EXDEV without refer on both directories) is
	// possible when a file was the target of one (l) and the directories
	// of such targets and of removed files (d, which a rename's source
	// is) are more than one. The trace does not pair a rename's two
	// paths, so each of those directories gets refer; refer grants no
	// access of its own (a file reparented must not gain rights by it).
	if renameTarget && len(renamed) > 1 {
		for d := range renamed {
			grant(d, "refer")
		}
	}
	for _, o := range t.Objects {
		if landlockPath(o.Path) != nil {
			continue // "[vdso]" and other pseudo names
		}
		grant(o.Path, "execute")
		if tree := under(o.Path, libTrees); widen && tree != "" {
			grant(tree, dataRead...) // dlopen needs read only
		}
	}
	for _, g := range t.Grants {
		grant(g.Path, g.Access...)
	}
	for _, b := range landlockBaseline {
		grant(b.Path, b.Access...)
	}
	l := &profiles.Landlock{Require: profiles.IfAvailable, Bind: []int{}, Connect: []int{}}
	for _, p := range t.Ports {
		switch {
		case p.Use == PortBind && p.Port == 0:
			if l.Bind != nil {
				warnings = append(warnings, "the workload bound an ephemeral port (port 0), which no Landlock rule can name: TCP bind is left unrestricted")
			}
			l.Bind = nil
		case p.Use == PortBind && l.Bind != nil:
			l.Bind = append(l.Bind, p.Port)
		case p.Use == PortConnect:
			l.Connect = append(l.Connect, p.Port)
		}
	}
	for _, ports := range []*[]int{&l.Bind, &l.Connect} {
		if *ports != nil {
			slices.Sort(*ports)
			*ports = slices.Compact(*ports)
		}
	}
	rights, folded := foldRules(rights, maxGeneratedRules)
	warnings = append(warnings, folded...)
	for _, p := range slices.Sorted(maps.Keys(rights)) {
		l.FS = append(l.FS, profiles.LandlockPath{Path: p, Access: slices.Sorted(maps.Keys(rights[p]))})
	}
	if err := landlock.Check(l); err != nil {
		// Every path and name above was checked; this is a bug.
		return nil, append(warnings, fmt.Sprintf("no Landlock rules: %v", err))
	}
	if _, err := landlock.HelperArgs(l); err != nil {
		return nil, append(warnings, fmt.Sprintf("no Landlock rules: %v", err))
	}
	return l, warnings
}

// systemTrees are the trees of the operating system in an image: its
// programs, libraries, configuration, devices, kernel interfaces and home
// directories. A file read there says nothing about the files beside it
// (/etc/passwd and /etc/shadow), so widenData leaves them to rules per
// file.
var systemTrees = []string{"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/sbin", "/sys", "/usr"}

// Rights widenData grants on a directory of the workload's data.
var (
	dataRead  = []string{"read", "list"}
	dataWrite = []string{"read", "list", "write", "create", "remove"}
)

// widenData generalizes the evidence of f the way
// the analysis of the objects generalizes the syscalls (and, like it, is
// left out by --recorded-only): the names of a workload's data files vary
// with what it is asked (the page served, the table created, the file
// uploaded), so a recording cannot name them all.
//
//   - a file read in a library tree (libTrees: /usr/lib, /usr/share, ...)
//     gives read and list on the whole tree: interpreters and plugin
//     loaders read their libraries lazily (Perl's require, Python's
//     import, NSS modules, locales), and those trees hold the image's
//     public software, not its secrets;
//   - outside systemTrees, the directory of a file read gets read and list;
//   - the directory of a file written, created, removed or renamed, or of
//     a directory made, gets read, list, write, create and remove: a
//     directory made at run time does not exist when the helper makes its
//     rules, so what is done in it needs rights on the directory above.
func widenData(grant func(string, ...string), f FileAccess, dir string, isDir bool) {
	if tree := under(f.Path, libTrees); tree != "" && strings.ContainsAny(f.Access, "re") {
		grant(tree, dataRead...)
		return
	}
	data := func(p string) bool { return p != "/" && under(p, systemTrees) == "" }
	if data(dir) {
		if strings.ContainsRune(f.Access, 'r') && !isDir {
			grant(dir, dataRead...)
		}
		if strings.ContainsAny(f.Access, "wcdlmu") {
			grant(dir, dataWrite...)
		}
	}
}

// landlockPath checks p as landlock.Check will check a rule's path.
func landlockPath(p string) error {
	return landlock.Check(&profiles.Landlock{FS: []profiles.LandlockPath{{Path: p, Access: []string{"read"}}}})
}

// foldRules replaces, while rights holds more than limit paths, the rules
// beneath the directory that is the parent of the most rules with one rule
// on that directory holding the union of their rights, and says which
// directories it folded.
func foldRules(rights map[string]map[string]bool, limit int) (map[string]map[string]bool, []string) {
	var notes []string
	for len(rights) > limit {
		count := map[string]int{}
		for p := range rights {
			if p != "/" {
				count[path.Dir(p)]++
			}
		}
		best := ""
		for _, d := range slices.Sorted(maps.Keys(count)) {
			if count[d] > count[best] {
				best = d
			}
		}
		if best == "" {
			break
		}
		union := rights[best]
		if union == nil {
			union = map[string]bool{}
		}
		for p, r := range rights {
			if p != best && (best == "/" || strings.HasPrefix(p, best+"/")) {
				maps.Copy(union, r)
				delete(rights, p)
			}
		}
		rights[best] = union
		notes = append(notes, fmt.Sprintf("more than %d Landlock file rules: the %d paths in %q became one rule on it", limit, count[best], printable(best)))
	}
	return rights, notes
}
