package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/seccomp"
)

// Format names an input format that importData reads.
type Format string

// inputInfo formats.
const (
	// FormatTrace is runcage's own trace JSON (Trace, Marshal).
	FormatTrace Format = "runcage trace"
	// FormatStrace is the output of `strace -f` (with or without -o, -tt,
	// -ttt, -T).
	FormatStrace Format = "strace log"
	// FormatAudit is kernel audit records of type SECCOMP (1326), as
	// auditd writes them to /var/log/audit/audit.log, as `ausearch -i`
	// prints them, or as the kernel logs them without auditd.
	FormatAudit Format = "audit log"
	// FormatComplain is runcage's complain-mode and denials log
	// (AuditEvent lines; also what `runcage denials --json` prints).
	FormatComplain Format = "runcage complain log"
)

// maxImportSize bounds the input importPath reads.
const maxImportSize = 1 << 30

// errUnknownFormat is returned by importData for input it cannot recognise.
var errUnknownFormat = errors.New("input format not recognised (want a runcage trace, an `strace -f` log, audit type=SECCOMP records or a runcage complain log)")

// imported is the result of importData.
type imported struct {
	Trace  *Trace
	Format Format
	// Skipped counts input lines that were not understood (or, for
	// strace, calls whose syscall strace could not name) and were left out.
	Skipped int
}

// importPath reads the file at path and imports it with importData.
func importPath(path, name string, containers ...string) (*imported, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if len(data) > maxImportSize {
		return nil, fmt.Errorf("import %s: larger than %d bytes", path, maxImportSize)
	}
	imp, err := importData(data, name, containers...)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return imp, nil
}

// importData detects the format of data (detectFormat) and turns it into a
// trace named name (a runcage trace keeps its own name). Every syscall name
// in the result passes seccomp.CheckName; input that names anything else
// is refused, since recordings and logs are hostile input. If containers is
// not empty, a runcage log (complain, denials) counts only the events of
// those containers; formats that name no container are refused then, since
// they cannot be filtered.
func importData(data []byte, name string, containers ...string) (*imported, error) {
	format, err := detectFormat(data)
	if err != nil {
		return nil, err
	}
	if len(containers) > 0 && format != FormatComplain {
		return nil, profiles.Refusef("--container refused for a %s: only runcage's own logs name containers", format)
	}
	imp := &imported{Format: format}
	switch format {
	case FormatTrace:
		imp.Trace, err = Parse(data)
	case FormatComplain:
		imp.Trace, imp.Skipped, err = ParseAuditLog(bytes.NewReader(data), name, containers...)
	case FormatAudit:
		imp.Trace, imp.Skipped, err = parseAuditRecords(bytes.NewReader(data), name)
	case FormatStrace:
		imp.Trace, imp.Skipped, err = parseStrace(bytes.NewReader(data), name)
	}
	if err != nil {
		return nil, err
	}
	if err := checkNames(imp.Trace); err != nil {
		return nil, err
	}
	return imp, nil
}

func checkNames(t *Trace) error {
	for _, m := range []map[string]uint64{t.Syscalls, t.Denied} {
		for n := range m {
			if err := seccomp.CheckName(n); err != nil {
				return fmt.Errorf("%w: %w", errBadTrace, err)
			}
		}
	}
	return nil
}

// detectFormat tells which format data is in, from its first lines: a JSON
// object with "syscalls" is a runcage trace, JSON lines with "syscall" a
// complain log, lines with type=SECCOMP (or type=1326) and syscall= audit
// records, and lines that look like syscalls (name, '(' ...) an strace log.
func detectFormat(data []byte) (Format, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", fmt.Errorf("%w: the input is empty", errUnknownFormat)
	}
	if trimmed[0] == '{' {
		var probe struct {
			Syscalls json.RawMessage `json:"syscalls"`
			Version  int             `json:"version"`
		}
		if json.Unmarshal(trimmed, &probe) == nil && probe.Syscalls != nil {
			return FormatTrace, nil
		}
		first, _, _ := bytes.Cut(trimmed, []byte("\n"))
		var ev struct {
			Syscall *string `json:"syscall"`
		}
		if json.Unmarshal(first, &ev) == nil && ev.Syscall != nil {
			return FormatComplain, nil
		}
		return "", fmt.Errorf("%w: JSON, but neither a runcage trace nor a complain log", errUnknownFormat)
	}
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Buffer(make([]byte, 64*1024), maxLine)
	lines, straceLike := 0, 0
	for sc.Scan() && lines < 200 {
		l := sc.Text()
		if strings.TrimSpace(l) == "" {
			continue
		}
		lines++
		if auditRE.MatchString(l) {
			return FormatAudit, nil
		}
		if _, ok := straceBody(l); ok {
			straceLike++
		}
	}
	if straceLike > 0 && straceLike*2 >= lines {
		return FormatStrace, nil
	}
	return "", errUnknownFormat
}

// maxLine bounds one input line (strace prints long argument lists).
const maxLine = 4 << 20

// ---- audit records ----

// auditRE matches a kernel SECCOMP audit record: "type=SECCOMP" as auditd
// writes it, "type=1326" as the kernel logs it without auditd.
var auditRE = lazyRegexp(`\btype=(?:SECCOMP|1326)\b.*\bsyscall=`)

var (
	auditArchRE    = lazyRegexp(`\barch=([0-9A-Za-z_]+)`)
	auditSyscallRE = lazyRegexp(`\bsyscall=([0-9A-Za-z_]+)`)
)

// parseAuditRecords reads kernel audit records and returns the trace of the
// syscalls named by its type=SECCOMP records: those a seccomp filter logged
// (SCMP_ACT_LOG, or a denial with the log flag). Raw records name the
// syscall by number and architecture (syscall=101 arch=c000003e); the
// number is resolved with libseccomp for that architecture, so the binary
// must be built with the seccomp tag. Records `ausearch -i` interpreted
// (syscall=ptrace arch=x86_64) are read as they are. Other record types are
// skipped and counted.
//
// Audit records prove syscalls only: the trace has no files, sockets or
// capability evidence.
//
// The record format is the kernel's audit_seccomp() (kernel/auditsc.c):
// "auid=%u uid=%u gid=%u ses=%u subj=... pid=%d comm=%s exe=%s sig=%ld
// arch=%x syscall=%ld compat=%d ip=0x%lx code=0x%x".
func parseAuditRecords(r io.Reader, name string) (*Trace, int, error) {
	t := New(name, SourceAudit)
	skipped := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for sc.Scan() {
		l := sc.Text()
		if strings.TrimSpace(l) == "" {
			continue
		}
		if !auditRE.MatchString(l) {
			skipped++
			continue
		}
		am, sm := auditArchRE.FindStringSubmatch(l), auditSyscallRE.FindStringSubmatch(l)
		if am == nil || sm == nil {
			skipped++
			continue
		}
		arch, sys, err := auditSyscall(am[1], sm[1])
		if err != nil {
			return nil, skipped, fmt.Errorf("audit record %q: %w", truncate(l, 200), err)
		}
		if t.Arch == "" {
			t.Arch = string(arch)
		}
		t.Syscalls[sys]++
	}
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("read audit log: %w", err)
	}
	t.Complete = true
	t.Normalize()
	return t, skipped, nil
}

// auditSyscall resolves one record's arch= and syscall= values.
func auditSyscall(archField, sysField string) (specs.Arch, string, error) {
	if a, ok := seccomp.ArchByAuditName(archField); ok {
		if _, err := strconv.Atoi(sysField); err == nil {
			n, _ := strconv.Atoi(sysField)
			s, err := seccomp.SyscallName(a, n)
			return a, s, err
		}
		return a, sysField, nil
	}
	code, err := strconv.ParseUint(archField, 16, 32)
	if err != nil {
		return "", "", fmt.Errorf("arch=%s: not an audit architecture", archField)
	}
	nr, err := strconv.Atoi(sysField)
	if err != nil {
		return "", "", fmt.Errorf("syscall=%s: not a number", sysField)
	}
	arch, err := seccomp.AuditArch(uint32(code), nr)
	if err != nil {
		return "", "", err
	}
	s, err := seccomp.SyscallName(arch, nr)
	if err != nil {
		return "", "", fmt.Errorf("resolve syscall: %w", err)
	}
	return arch, s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
