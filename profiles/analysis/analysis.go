// Package analysis finds the syscalls a program's code can make, from its
// ELF files alone: never by running it. `runcage profile generate` adds
// them to what a recording saw, so that a profile recorded from a short
// exercise also allows what the same code does on paths the exercise did
// not take (a large file served with sendfile, a checkpoint's
// sync_file_range).
//
// Inspect reads one mapped object (an executable or shared library) and
// says which analysis applies and what it found:
//
//   - KindImports (a dynamically linked program or library): the functions
//     it imports (undefined dynamic symbols). Reach maps them through a
//     table of glibc and musl functions to the syscalls they make
//     (libc.table), the C library's internal ones included (malloc's mmap,
//     brk, mremap, madvise; sleep's clock_nanosleep). Of an x86_64 shared
//     library, Info.Graph is its call graph: Reachable keeps only the
//     imports that code the programs can reach calls (callgraph.go).
//   - KindLibc (the C library and its dynamic loader): nothing. They contain
//     nearly every syscall; what a program reaches in them is what it and
//     its other libraries import.
//   - KindGo (a Go program): the syscall wrappers linked in (the linker
//     drops unreachable functions), from the symbol table or, when the
//     binary is stripped, from the pclntab, which Go always keeps. Reach
//     maps them by name (syscall.Ftruncate is ftruncate; goWrappers lists
//     the exceptions) and through the libc table if the program is also
//     dynamically linked (cgo).
//   - KindSymbols (a static non-Go program with a symbol table): the libc
//     functions linked in, through the libc table.
//   - KindNone: nothing can be seen (a stripped static C program, such as
//     busybox; a file that is not ELF). Info.Note says so.
//
// What it cannot see: syscalls made through syscall(2) or Go's Syscall with
// a number computed at run time, inline assembly, code generated at run
// time (JIT), and anything in an object that was never mapped while
// recording (a library only dlopen'ed on a path the exercise did not take).
package analysis

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// Kind says which analysis applies to an object.
type Kind string

const (
	KindImports Kind = "imports"
	KindLibc    Kind = "libc"
	KindGo      Kind = "go"
	KindSymbols Kind = "symbols"
	KindNone    Kind = "none"
)

// Limits on what Inspect keeps of one object: a hostile binary cannot make
// a trace grow without bound.
const (
	MaxNames   = 8192
	maxNameLen = 256
)

// Info is what Inspect found in one object. It is data to keep in a trace;
// Reach turns it into syscalls.
type Info struct {
	Kind Kind
	// Imports are the undefined dynamic function symbols, as
	// "name@version" when versioned ("sendfile64@GLIBC_2.3"), sorted.
	Imports []string
	// Functions are the defined functions the tables can map: Go syscall
	// wrappers and runtime stubs (KindGo), libc functions linked into a
	// static program (KindSymbols), sorted.
	Functions []string
	// Note says what the analysis could not see, if anything.
	Note string
	// Graph is the call graph of a dynamically linked object (KindImports),
	// for Reachable; nil if it could not be built (Note says why) or for
	// other kinds. It is not kept in a trace: the recorder narrows Imports
	// with it before writing one.
	Graph *Graph
}

// Inspect reads the ELF object r. It never executes anything and reads only
// through r. A file that is not ELF gives KindNone with a note, not an
// error; an error means r could not be read or its ELF structures are
// corrupt.
func Inspect(r io.ReaderAt) (info *Info, err error) {
	defer func() {
		// debug/elf and debug/gosym parse hostile input; a panic in them
		// must not take the recorder down.
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("inspect object: malformed ELF: %v", p)
		}
	}()
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return &Info{Kind: KindNone, Note: "not an ELF file"}, nil
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("inspect object: %w", err)
	}
	defer f.Close()
	info = &Info{Kind: KindNone}
	soname := ""
	if s, err := f.DynString(elf.DT_SONAME); err == nil && len(s) > 0 {
		soname = s[0]
	}
	if isLibc(soname) {
		info.Kind = KindLibc
		return info, nil
	}
	dynamic := f.Section(".dynsym") != nil
	if dynamic {
		syms, err := f.DynamicSymbols()
		if err != nil && len(syms) == 0 {
			return nil, fmt.Errorf("inspect object: dynamic symbols: %w", err)
		}
		for _, s := range syms {
			if s.Section != elf.SHN_UNDEF || !plausibleName(s.Name) {
				continue
			}
			if t := elf.ST_TYPE(s.Info); t != elf.STT_FUNC && t != elf.STT_NOTYPE {
				continue
			}
			name := s.Name
			if s.Version != "" && plausibleName(s.Version) {
				name += "@" + s.Version
			}
			info.Imports = append(info.Imports, name)
		}
		info.Imports = capSorted(info.Imports)
		info.Kind = KindImports
	}
	if dynamic && f.Section(".gopclntab") == nil && f.Section(".go.buildinfo") == nil {
		g, err := BuildGraph(f)
		if err != nil {
			info.Note = fmt.Sprintf("%v%s", err, graphFailedSuffix)
		}
		info.Graph = g
	}
	isGo := f.Section(".gopclntab") != nil || f.Section(".go.buildinfo") != nil
	switch {
	case isGo:
		info.Kind = KindGo
		names, how, err := goFunctions(f)
		if err != nil {
			info.Note = fmt.Sprintf("Go program whose functions could not be read (%v): only its imports are analysed", err)
			break
		}
		for _, n := range names {
			if isGoCandidate(n) {
				info.Functions = append(info.Functions, n)
			}
		}
		info.Functions = capSorted(info.Functions)
		if how == "pclntab" {
			info.Note = "stripped Go program: functions read from the pclntab"
		}
	case !dynamic:
		syms, err := f.Symbols()
		if err != nil || len(syms) == 0 {
			info.Note = "static program without a symbol table: its syscalls cannot be seen, only recorded"
			break
		}
		info.Kind = KindSymbols
		for _, s := range syms {
			if s.Section == elf.SHN_UNDEF || elf.ST_TYPE(s.Info) != elf.STT_FUNC || !plausibleName(s.Name) {
				continue
			}
			if _, ok := LibcSyscalls(s.Name, ""); ok {
				info.Functions = append(info.Functions, s.Name)
			}
		}
		info.Functions = capSorted(info.Functions)
	}
	return info, nil
}

// goFunctions returns the function names of a Go program: from .symtab if
// it has one, else from the pclntab (what debug/gosym reads; Go keeps it in
// stripped binaries for tracebacks). how is "symtab" or "pclntab".
func goFunctions(f *elf.File) (names []string, how string, err error) {
	if syms, err := f.Symbols(); err == nil && len(syms) > 0 {
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
				names = append(names, s.Name)
			}
		}
		return names, "symtab", nil
	}
	sec := f.Section(".gopclntab")
	text := f.Section(".text")
	if sec == nil || text == nil {
		return nil, "", fmt.Errorf("no symbol table and no .gopclntab")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, "", fmt.Errorf("read .gopclntab: %w", err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, "", fmt.Errorf("parse .gopclntab: %w", err)
	}
	for _, fn := range tab.Funcs {
		names = append(names, fn.Name)
	}
	return names, "pclntab", nil
}

// Hit is one syscall an object's code can make, and the function that
// makes it.
type Hit struct {
	Syscall  string
	Function string
}

// Reach returns the syscalls reachable through what Inspect found, sorted
// by syscall then function. Names the tables do not know are skipped: an
// import that is not a libc function (a symbol of another library), a Go
// function that is no wrapper.
//
// arch is the trace's architecture in the OCI spelling
// ("SCMP_ARCH_X86_64"); "" counts the syscalls of every architecture.
func Reach(arch string, kind Kind, imports, functions []string) []Hit {
	var hits []Hit
	add := func(fn string, calls []string) {
		for _, c := range calls {
			hits = append(hits, Hit{Syscall: c, Function: fn})
		}
	}
	if kind == KindLibc || kind == KindNone {
		return nil
	}
	for _, im := range imports {
		if calls, ok := LibcSyscalls(im, arch); ok {
			add(strings.SplitN(im, "@", 2)[0], calls)
		}
	}
	for _, fn := range functions {
		switch kind {
		case KindGo:
			if calls, ok := GoSyscalls(fn); ok {
				add(strings.TrimSuffix(fn, ".abi0"), calls)
			}
		case KindSymbols:
			if calls, ok := LibcSyscalls(fn, arch); ok {
				add(fn, calls)
			}
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := strings.Compare(a.Syscall, b.Syscall); c != 0 {
			return c
		}
		return strings.Compare(a.Function, b.Function)
	})
	return slices.Compact(hits)
}

// VDSOSyscalls are the syscalls behind the vDSO's functions on x86_64 and
// aarch64. A program's time lookups normally never reach the kernel, so
// a recording does not see them; but on a host whose clock source has no
// fast user-space path (a VM without a stable TSC, a hypervisor's clock)
// the vDSO falls back to the real syscall, and a profile without them
// fails every time lookup. Generated profiles always allow them.
var VDSOSyscalls = []string{"clock_getres", "clock_gettime", "getcpu", "gettimeofday", "time"}

// plausibleName accepts a symbol name worth keeping: 1 to maxNameLen
// printable, non-space characters.
func plausibleName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// capSorted sorts and deduplicates names and keeps at most MaxNames.
func capSorted(names []string) []string {
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > MaxNames {
		names = names[:MaxNames]
	}
	return names
}

// TableSyscalls returns, sorted, every syscall name the tables can produce
// (libc.table, the Go wrapper and runtime tables, VDSOSyscalls), so that
// tests can check each against libseccomp.
func TableSyscalls() []string {
	var out []string
	for _, calls := range libcTable() {
		for _, c := range calls {
			out = append(out, c.name)
			if c.alt != "" {
				out = append(out, c.alt)
			}
		}
	}
	for _, m := range []map[string][]string{goWrappers, goRuntime} {
		for _, calls := range m {
			out = append(out, calls...)
		}
	}
	out = append(out, VDSOSyscalls...)
	slices.Sort(out)
	return slices.Compact(out)
}
