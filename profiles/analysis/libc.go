package analysis

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// libcTableText is the table of libc functions and the syscalls they make;
// libc.table says how it was derived.
//
//go:embed libc.table
var libcTableText string

// libcCall is one syscall of a libc.table entry.
type libcCall struct {
	// name is the syscall; alt, if set, replaces it on architectures
	// that lack it ("A|B").
	name, alt string
	// musl marks a call only musl makes ("musl:X").
	musl bool
}

// libcTable maps a glibc or musl function name to the syscalls it can
// make, sorted, with "@" inclusions resolved. It is parsed once from
// libcTableText; a malformed table panics at first use (it is compiled in,
// and the tests parse it).
var libcTable = sync.OnceValue(func() map[string][]libcCall {
	t, err := parseLibcTable(libcTableText)
	if err != nil {
		panic(err)
	}
	return t
})

// parseLibcTable parses the format described at the top of libc.table.
func parseLibcTable(text string) (map[string][]libcCall, error) {
	direct := map[string][]libcCall{}
	includes := map[string][]string{}
	for i, line := range strings.Split(text, "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		fns, calls, ok := strings.Cut(line, ":")
		if !ok || len(strings.Fields(fns)) == 0 {
			return nil, fmt.Errorf("libc table line %d: want \"FUNCTION...: SYSCALL...\"", i+1)
		}
		var parsed []libcCall
		var incs []string
		for _, w := range strings.Fields(calls) {
			if inc, ok := strings.CutPrefix(w, "@"); ok {
				incs = append(incs, inc)
				continue
			}
			var c libcCall
			w, c.musl = strings.CutPrefix(w, "musl:")
			c.name, c.alt, _ = strings.Cut(w, "|")
			if c.name == "" || strings.ContainsAny(c.name+c.alt, ":|@") {
				return nil, fmt.Errorf("libc table line %d: bad call %q", i+1, w)
			}
			parsed = append(parsed, c)
		}
		for _, f := range strings.Fields(fns) {
			if _, dup := direct[f]; dup {
				return nil, fmt.Errorf("libc table line %d: %s listed twice", i+1, f)
			}
			direct[f] = append([]libcCall{}, parsed...)
			includes[f] = incs
		}
	}
	out := make(map[string][]libcCall, len(direct))
	var resolve func(f string, seen []string) ([]libcCall, error)
	resolve = func(f string, seen []string) ([]libcCall, error) {
		if r, ok := out[f]; ok {
			return r, nil
		}
		if slices.Contains(seen, f) {
			return nil, fmt.Errorf("libc table: %s includes itself (%s)", f, strings.Join(seen, " -> "))
		}
		calls, ok := direct[f]
		if !ok {
			return nil, fmt.Errorf("libc table: @%s is not an entry", f)
		}
		all := slices.Clone(calls)
		for _, inc := range includes[f] {
			more, err := resolve(inc, append(seen, f))
			if err != nil {
				return nil, err
			}
			all = append(all, more...)
		}
		slices.SortFunc(all, func(a, b libcCall) int {
			return strings.Compare(a.name+"|"+a.alt+fmt.Sprint(a.musl), b.name+"|"+b.alt+fmt.Sprint(b.musl))
		})
		all = slices.Compact(all)
		out[f] = all
		return all, nil
	}
	for f := range direct {
		if _, err := resolve(f, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// legacyArches have the old syscalls ("A" of "A|B"): open, stat, dup2,
// pipe, poll, epoll_wait, ...
var legacyArches = []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}

// LibcSyscalls returns the syscalls the glibc or musl function fn can make
// on architecture arch (the OCI name, "SCMP_ARCH_X86_64"; "" for every
// architecture), sorted, and whether the table knows fn. fn may carry its
// symbol version ("read@GLIBC_2.2.5"): a glibc version leaves out what
// only musl does. Fortified and 64-bit variants the table does not list
// itself are looked up by their base name (__read_chk, __open64_2 and
// fopen64 are read, open and fopen).
func LibcSyscalls(fn, arch string) ([]string, bool) {
	t := libcTable()
	name, version, _ := strings.Cut(fn, "@")
	glibc := strings.HasPrefix(version, "GLIBC_")
	for _, cand := range libcCandidates(name) {
		calls, ok := t[cand]
		if !ok {
			continue
		}
		out := []string{}
		for _, c := range calls {
			switch {
			case c.musl && glibc:
			case c.alt == "" || arch == "":
				out = append(out, c.name)
				if c.alt != "" {
					out = append(out, c.alt)
				}
			case slices.Contains(legacyArches, arch):
				out = append(out, c.name)
			default:
				out = append(out, c.alt)
			}
		}
		slices.Sort(out)
		return slices.Compact(out), true
	}
	return nil, false
}

// libcCandidates returns name, then the names it may decorate.
func libcCandidates(name string) []string {
	out := []string{name}
	base := name
	if strings.HasPrefix(base, "__") {
		base = strings.TrimPrefix(base, "__")
		for _, suf := range []string{"_chk", "_2"} {
			base = strings.TrimSuffix(base, suf)
		}
		base = strings.TrimPrefix(base, "isoc99_")
		base = strings.TrimPrefix(base, "libc_")
		out = append(out, base)
	}
	if b, ok := strings.CutSuffix(base, "64"); ok && b != "" {
		out = append(out, b)
	}
	return out
}

// isLibc reports whether an ELF object with this DT_SONAME (or, if it has
// none, file name) is the C library or its dynamic loader. Their own
// imports and exports say nothing about what a program calls: what counts
// is what the program and its other libraries import from them.
func isLibc(soname string) bool {
	for _, p := range []string{"libc.so", "ld-linux", "ld-musl-", "libc.musl-", "ld64.so", "libpthread.so", "libdl.so", "librt.so", "libm.so"} {
		if strings.HasPrefix(soname, p) {
			return true
		}
	}
	return false
}
