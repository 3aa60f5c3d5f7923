package record

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// straceLineRE splits an strace line into its optional pid ("[pid  12] "
// on stderr, "12 " with -o), its optional timestamp (-t, -tt, -ttt, -r) and
// the rest.
var straceLineRE = lazyRegexp(`^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(?:(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+)?(.*)$`)

var (
	straceCallRE    = lazyRegexp(`^([a-z_][a-z0-9_]*)\((.*)$`)
	straceResumedRE = lazyRegexp(`^<\.\.\. ([a-z_][a-z0-9_]*) resumed>(.*)$`)
	straceUnknownRE = lazyRegexp(`^(?:syscall_(?:0x)?[0-9a-f]+|\?\?\?\?)\(`)
)

const unfinished = " <unfinished ...>"

// straceBody returns the part of an strace line after the pid and the
// timestamp, and whether the line looks like strace output at all.
func straceBody(line string) (string, bool) {
	m := straceLineRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	body := m[3]
	switch {
	case straceCallRE.MatchString(body), straceResumedRE.MatchString(body), straceUnknownRE.MatchString(body),
		strings.HasPrefix(body, "+++ "), strings.HasPrefix(body, "--- "):
		return body, true
	}
	return body, false
}

// parseStrace reads the output of `strace -f` and returns the trace it
// proves: every syscall strace shows (whatever it returned: a call the
// workload makes must keep getting its real answer under the generated
// filter), the absolute paths named by path-taking calls with how they were
// used, the sockets created, and capability evidence. It understands the
// pid prefixes of -f (with and without -o), the timestamps of -t, -tt, -ttt
// and -r, -T's durations, -y's fd paths, calls split into "<unfinished
// ...>" and "<... resumed>" lines, and skips signal ("--- SIG"), exit
// ("+++ exited") and strace's own lines. Calls strace cannot name
// ("syscall_0x1b3") are skipped and counted, as are lines it does not
// understand.
//
// strace shows arguments and results but not the caller's credentials, so
// capability evidence is inferred from successful calls: bind to a port
// below 1024 (CAP_NET_BIND_SERVICE), a raw or packet socket (CAP_NET_RAW),
// chown to an id other than 0 (CAP_CHOWN), setuid/setgid to an id other
// than 0 and setgroups (CAP_SETUID, CAP_SETGID), mknod of a device
// (CAP_MKNOD), chroot (CAP_SYS_CHROOT). These are what a workload running
// as root in a container needs those capabilities for; review them.
//
// The paths are as the traced process named them: an strace of a command on
// the host names host paths.
func parseStrace(r io.Reader, name string) (*Trace, int, error) {
	t := New(name, SourceStrace)
	p := &straceParser{t: t, pending: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for sc.Scan() {
		p.line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, p.skipped, fmt.Errorf("read strace log: %w", err)
	}
	t.Complete = true
	t.Normalize()
	return t, p.skipped, nil
}

type straceParser struct {
	t       *Trace
	pending map[string]string // pid → "name(args so far" of an unfinished call
	skipped int
}

func (p *straceParser) line(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	m := straceLineRE.FindStringSubmatch(line)
	pid := m[1] + m[2]
	body := m[3]
	switch {
	case strings.HasPrefix(body, "+++ "), strings.HasPrefix(body, "--- "),
		strings.HasPrefix(body, "strace: "), strings.HasPrefix(body, "[ Process "):
		return
	case straceUnknownRE.MatchString(body):
		p.skipped++
		return
	}
	if cm := straceCallRE.FindStringSubmatch(body); cm != nil {
		p.t.Syscalls[cm[1]]++
		if rest, ok := strings.CutSuffix(body, unfinished); ok {
			p.pending[pid] = rest
			return
		}
		p.call(cm[1], cm[2])
		return
	}
	if rm := straceResumedRE.FindStringSubmatch(body); rm != nil {
		start, ok := p.pending[pid]
		delete(p.pending, pid)
		if !ok || !strings.HasPrefix(start, rm[1]+"(") {
			// The start of the call is not in the log: count the call here.
			p.t.Syscalls[rm[1]]++
			return
		}
		if rest, ok := strings.CutSuffix(rm[2], unfinished); ok {
			// Interrupted again ("<... read resumed> <unfinished ...>").
			p.pending[pid] = start + rest
			return
		}
		p.call(rm[1], strings.TrimPrefix(start, rm[1]+"(")+rm[2])
		return
	}
	p.skipped++
}

// call analyses one complete call: s is what follows "name(".
func (p *straceParser) call(name, s string) {
	args, ret, ok := splitArgs(s)
	if !ok {
		return
	}
	okRet := succeeded(ret)
	if spec, found := pathCalls[name]; found {
		for _, pa := range spec {
			if pa.idx >= len(args) {
				continue
			}
			access := pa.access
			if pa.flagsIdx > 0 && pa.flagsIdx < len(args) {
				access = openAccess(args[pa.flagsIdx])
			}
			p.file(args, pa.idx, pa.dirIdx, access)
		}
	}
	switch name {
	case "socket", "socketpair":
		if len(args) < 3 {
			return
		}
		fam, typ := args[0], sockType(args[1])
		if !afRE.MatchString(fam) || typ == "" {
			return
		}
		p.t.Sockets = append(p.t.Sockets, Socket{Family: fam, Type: typ, Protocol: protocol(args[2])})
		if okRet && (typ == "SOCK_RAW" || fam == "AF_PACKET") {
			p.evidence("CAP_NET_RAW", fmt.Sprintf("%s(%s, %s)", name, fam, typ))
		}
	case "bind", "connect":
		if len(args) < 2 {
			return
		}
		if sp := sunPathRE.FindStringSubmatch(args[1]); sp != nil {
			if path, ok := straceString(sp[1]); ok && strings.HasPrefix(path, "/") {
				p.addFile(path, "u")
			}
		}
		if name == "bind" && okRet {
			if pm := portRE.FindStringSubmatch(args[1]); pm != nil {
				if port, err := strconv.Atoi(pm[1]); err == nil && port > 0 && port < 1024 {
					p.evidence("CAP_NET_BIND_SERVICE", fmt.Sprintf("bind to port %d", port))
				}
			}
		}
	case "chown", "lchown", "fchown", "chown32", "lchown32", "fchown32":
		if okRet && len(args) >= 3 && (otherID(args[1]) || otherID(args[2])) {
			p.evidence("CAP_CHOWN", fmt.Sprintf("%s(%s, %s, %s)", name, printable(args[0]), args[1], args[2]))
		}
	case "fchownat":
		if okRet && len(args) >= 4 && (otherID(args[2]) || otherID(args[3])) {
			p.evidence("CAP_CHOWN", fmt.Sprintf("%s(%s, %s, %s)", name, printable(args[1]), args[2], args[3]))
		}
	case "setuid", "setreuid", "setresuid", "setuid32", "setreuid32", "setresuid32":
		if okRet && anyOtherID(args) {
			p.evidence("CAP_SETUID", fmt.Sprintf("%s(%s)", name, strings.Join(args, ", ")))
		}
	case "setgid", "setregid", "setresgid", "setgid32", "setregid32", "setresgid32":
		if okRet && anyOtherID(args) {
			p.evidence("CAP_SETGID", fmt.Sprintf("%s(%s)", name, strings.Join(args, ", ")))
		}
	case "setgroups", "setgroups32":
		if okRet {
			p.evidence("CAP_SETGID", name)
		}
	case "mknod", "mknodat":
		if okRet && (strings.Contains(s, "S_IFCHR") || strings.Contains(s, "S_IFBLK")) {
			p.evidence("CAP_MKNOD", name+" of a device")
		}
	case "chroot":
		if okRet {
			p.evidence("CAP_SYS_CHROOT", "chroot("+printable(args[0])+")")
		}
	}
}

// maxEvidence is how many evidence lines a trace keeps per capability.
const maxEvidence = 3

func (p *straceParser) evidence(capability, why string) {
	if p.t.Capabilities == nil {
		p.t.Capabilities = map[string][]string{}
	}
	ev := p.t.Capabilities[capability]
	for _, e := range ev {
		if e == why {
			return
		}
	}
	if len(ev) < maxEvidence {
		p.t.Capabilities[capability] = append(ev, why)
	}
}

// pathArg says where a path-taking syscall has its path and what it does
// with it.
type pathArg struct {
	idx      int    // argument index of the path
	dirIdx   int    // argument index of the directory fd, or -1
	access   string // FileAccess letters
	flagsIdx int    // argument index of open flags, or 0
}

var pathCalls = map[string][]pathArg{
	"open":       {{0, -1, "r", 1}},
	"creat":      {{0, -1, "cw", 0}},
	"openat":     {{1, 0, "r", 2}},
	"openat2":    {{1, 0, "r", 2}},
	"execve":     {{0, -1, "x", 0}},
	"execveat":   {{1, 0, "x", 0}},
	"stat":       {{0, -1, "s", 0}},
	"lstat":      {{0, -1, "s", 0}},
	"stat64":     {{0, -1, "s", 0}},
	"lstat64":    {{0, -1, "s", 0}},
	"newfstatat": {{1, 0, "s", 0}},
	"fstatat64":  {{1, 0, "s", 0}},
	"statx":      {{1, 0, "s", 0}},
	"access":     {{0, -1, "s", 0}},
	"faccessat":  {{1, 0, "s", 0}},
	"faccessat2": {{1, 0, "s", 0}},
	"readlink":   {{0, -1, "s", 0}},
	"readlinkat": {{1, 0, "s", 0}},
	"statfs":     {{0, -1, "s", 0}},
	"chdir":      {{0, -1, "s", 0}},
	"truncate":   {{0, -1, "w", 0}},
	"unlink":     {{0, -1, "d", 0}},
	"unlinkat":   {{1, 0, "d", 0}},
	"rmdir":      {{0, -1, "d", 0}},
	"mkdir":      {{0, -1, "m", 0}},
	"mkdirat":    {{1, 0, "m", 0}},
	"rename":     {{0, -1, "d", 0}, {1, -1, "l", 0}},
	"renameat":   {{1, 0, "d", 0}, {3, 2, "l", 0}},
	"renameat2":  {{1, 0, "d", 0}, {3, 2, "l", 0}},
	"link":       {{0, -1, "r", 0}, {1, -1, "l", 0}},
	"linkat":     {{1, 0, "r", 0}, {3, 2, "l", 0}},
	"symlink":    {{1, -1, "c", 0}},
	"symlinkat":  {{2, 1, "c", 0}},
	"chmod":      {{0, -1, "w", 0}},
	"fchmodat":   {{1, 0, "w", 0}},
	"chown":      {{0, -1, "w", 0}},
	"lchown":     {{0, -1, "w", 0}},
	"fchownat":   {{1, 0, "w", 0}},
	"mknod":      {{0, -1, "c", 0}},
	"mknodat":    {{1, 0, "c", 0}},
	"utimensat":  {{1, 0, "w", 0}},
}

// file records the path in args[idx], resolved against the directory fd in
// args[dirIdx] when strace -y printed its path.
func (p *straceParser) file(args []string, idx, dirIdx int, access string) {
	s, ok := straceString(args[idx])
	if !ok || s == "" {
		return
	}
	if !strings.HasPrefix(s, "/") {
		if dirIdx < 0 || dirIdx >= len(args) {
			return
		}
		dm := fdPathRE.FindStringSubmatch(args[dirIdx])
		if dm == nil || !strings.HasPrefix(dm[1], "/") {
			return
		}
		s = path.Join(dm[1], s)
	}
	if strings.HasSuffix(access, "/") {
		access = strings.TrimSuffix(access, "/")
		if s != "/" {
			s = strings.TrimSuffix(path.Clean(s), "/") + "/"
		}
	}
	p.addFile(s, access)
}

func (p *straceParser) addFile(s, access string) {
	if strings.ContainsRune(s, 0) || len(s) > 4096 {
		return
	}
	p.t.Files = append(p.t.Files, FileAccess{Path: s, Access: access})
}

// openAccess turns open flags ("O_WRONLY|O_CREAT|O_CLOEXEC", or openat2's
// "{flags=O_RDONLY, ...}") into FileAccess letters; a trailing "/" marks a
// directory.
func openAccess(flags string) string {
	if i := strings.Index(flags, "flags="); i >= 0 {
		flags = flags[i+len("flags="):]
		if j := strings.IndexAny(flags, ",}"); j >= 0 {
			flags = flags[:j]
		}
	}
	set := map[string]bool{}
	for _, f := range strings.Split(flags, "|") {
		set[strings.TrimSpace(f)] = true
	}
	var a string
	switch {
	case set["O_PATH"]:
		a = "s"
	case set["O_WRONLY"]:
		a = "w"
	case set["O_RDWR"]:
		a = "rw"
	default:
		a = "r"
	}
	if set["O_CREAT"] || set["O_TMPFILE"] {
		a += "c"
	}
	if set["O_TRUNC"] && !strings.Contains(a, "w") {
		a += "w"
	}
	if set["O_DIRECTORY"] {
		a += "/"
	}
	return a
}

var (
	afRE      = lazyRegexp(`^AF_[A-Z0-9]+$`)
	sockRE    = lazyRegexp(`SOCK_(?:STREAM|DGRAM|RAW|RDM|SEQPACKET|DCCP|PACKET)\b`)
	sunPathRE = lazyRegexp(`sun_path=("(?:[^"\\]|\\.)*")`)
	portRE    = lazyRegexp(`sin6?_port=htons\((\d+)\)`)
	fdPathRE  = lazyRegexp(`^\d+<(.*)>$`)
	numRE     = lazyRegexp(`^-?\d+$`)
)

func sockType(s string) string {
	return sockRE.FindString(s)
}

// protocols maps the protocol names strace prints to their numbers.
var protocols = map[string]int{
	"IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17,
	"IPPROTO_IPV6": 41, "IPPROTO_ICMPV6": 58, "IPPROTO_SCTP": 132, "IPPROTO_UDPLITE": 136,
	"IPPROTO_RAW": 255, "NETLINK_ROUTE": 0, "NETLINK_AUDIT": 9, "NETLINK_KOBJECT_UEVENT": 15,
	"NETLINK_GENERIC": 16,
}

func protocol(s string) int {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n
	}
	return protocols[s]
}

// otherID reports whether an id argument names an id other than 0 and -1
// (no change).
func otherID(s string) bool {
	return numRE.MatchString(s) && s != "-1" && s != "0"
}

func anyOtherID(args []string) bool {
	for _, a := range args {
		if otherID(a) {
			return true
		}
	}
	return false
}

// succeeded reports whether an strace return value is a success.
func succeeded(ret string) bool {
	ret = strings.TrimSpace(ret)
	return ret != "" && !strings.HasPrefix(ret, "-1") && !strings.HasPrefix(ret, "?")
}

// splitArgs splits s, what follows "name(" in a complete call, into its
// top-level arguments and the return value after ") = ".
func splitArgs(s string) (args []string, ret string, ok bool) {
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '(', '[', '{':
			depth++
		case ']', '}':
			depth--
		case ')':
			if depth == 0 {
				if a := strings.TrimSpace(s[start:i]); a != "" || len(args) > 0 {
					args = append(args, a)
				}
				rest := s[i+1:]
				r, found := strings.CutPrefix(strings.TrimSpace(rest), "= ")
				if !found {
					return args, "", true
				}
				return args, r, true
			}
			depth--
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return nil, "", false
}

// straceString decodes a string argument as strace prints it: quoted, with
// C escapes (\n, \", \\, \xHH, octal \NNN). A string strace truncated (-s)
// is followed by "..." and is refused, as is anything not quoted.
func straceString(tok string) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	in := tok[1 : len(tok)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(in) {
			return "", false
		}
		switch e := in[i]; {
		case e == 'n':
			b.WriteByte('\n')
		case e == 't':
			b.WriteByte('\t')
		case e == 'r':
			b.WriteByte('\r')
		case e == 'v':
			b.WriteByte('\v')
		case e == 'f':
			b.WriteByte('\f')
		case e == '"', e == '\\':
			b.WriteByte(e)
		case e == 'x' && i+2 < len(in):
			v, err := strconv.ParseUint(in[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 2
		case e >= '0' && e <= '7':
			j := i
			for j < len(in) && j < i+3 && in[j] >= '0' && in[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(in[i:j], 8, 8)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			return "", false
		}
	}
	return b.String(), true
}

// printable returns s with anything but printable ASCII replaced by '?',
// at most 100 bytes: evidence lines end up in comments of profile.toml.
func printable(s string) string {
	s = truncate(s, 100)
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
