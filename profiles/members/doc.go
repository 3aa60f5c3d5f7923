package members

import (
	"fmt"
	"slices"
	"strings"
)

// MarkdownTable renders Table as the markdown table of
// docs/threat-model.md: one row per member, sorted by path.
func MarkdownTable() string {
	rows := slices.Clone(Table())
	slices.SortFunc(rows, func(a, b Decision) int { return strings.Compare(a.Path, b.Path) })
	var b strings.Builder
	b.WriteString("| member | decision (default profile) | why / how | when absent |\n|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, d := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Path, d.Kind, cell(d.Why), cell(d.Absent))
	}
	return b.String()
}
