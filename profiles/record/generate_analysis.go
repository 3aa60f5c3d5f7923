package record

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/seccomp"
)

// AnalysisSummary is what the analysis of a trace's objects found: the
// syscalls the code the recording saw mapped can make, beyond those it was
// seen making.
type AnalysisSummary struct {
	// Added maps each syscall runtime/default allows that the objects'
	// code can make to its reason: ReasonStatic + "OBJECT:FUNCTION", the
	// first by name with programs before libraries (programsFirst), and
	// ", +N more" when other functions make it too.
	Added map[string]string
	// Denied are the syscalls the objects' code can make but
	// runtime/default denies (mount, ptrace, ...), sorted. They are never
	// added: a generated profile stays within runtime/default, and only
	// a recording (with --allow-dangerous) can show that one is needed.
	Denied []string
	// Kinds counts the objects by analysis.Kind.
	Kinds map[string]int
	// Blind lists the objects whose code could not be analysed, with why,
	// sorted.
	Blind []string
	// Whole lists the shared libraries whose call graph could not be built
	// (analysis.GraphFailed), with why, sorted: all their imports count.
	Whole []string
}

// Reached analyses the objects of t (profiles/analysis.Reach) and returns
// what their code can make. A trace without objects (one imported from
// strace, audit or complain logs) gives an empty summary.
func Reached(t *Trace) AnalysisSummary {
	s := AnalysisSummary{Added: map[string]string{}, Kinds: map[string]int{}}
	where := map[string][]string{}
	for _, obj := range t.Objects {
		s.Kinds[obj.Analysis]++
		if obj.Analysis == string(analysis.KindNone) {
			s.Blind = append(s.Blind, fmt.Sprintf("%s: %s", obj.Path, obj.Note))
		}
		if analysis.GraphFailed(obj.Note) {
			s.Whole = append(s.Whole, fmt.Sprintf("%s: %s", obj.Path, obj.Note))
		}
		for _, h := range analysis.Reach(t.Arch, analysis.Kind(obj.Analysis), obj.Imports, obj.Functions) {
			if seccomp.CheckName(h.Syscall) != nil {
				continue
			}
			where[h.Syscall] = append(where[h.Syscall], obj.Path+":"+h.Function)
		}
	}
	names := slices.Sorted(maps.Keys(where))
	denied := seccomp.BeyondDefault(names)
	for _, n := range names {
		if slices.Contains(denied, n) {
			continue
		}
		w := where[n]
		slices.SortFunc(w, programsFirst)
		w = slices.Compact(w)
		r := ReasonStatic + w[0]
		if len(w) > 1 {
			r += fmt.Sprintf(", +%d more", len(w)-1)
		}
		s.Added[n] = r
	}
	s.Denied = denied
	slices.Sort(s.Blind)
	s.Blind = slices.Compact(s.Blind)
	slices.Sort(s.Whole)
	s.Whole = slices.Compact(s.Whole)
	return s
}

// programsFirst orders "OBJECT:FUNCTION" reasons with programs before
// shared libraries (whose name has ".so"), then by name: the reason a user
// reads first is the program's own call.
func programsFirst(a, b string) int {
	la, lb := strings.Contains(a, ".so"), strings.Contains(b, ".so")
	if la != lb {
		if lb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// reasonCounts counts reasons by kind: recorded, runtime and static.
func reasonCounts(reasons map[string]string) (recorded, runtime, static int) {
	for _, r := range reasons {
		switch {
		case r == ReasonRecorded:
			recorded++
		case strings.HasPrefix(r, ReasonStatic):
			static++
		default:
			runtime++
		}
	}
	return recorded, runtime, static
}
