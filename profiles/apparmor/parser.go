package apparmor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrParserMissing means apparmor_parser is not installed where runcage
// looks for it (/usr/sbin, /usr/bin, /sbin, /bin). Test for it with errors.Is.
var ErrParserMissing = errors.New("apparmor_parser is not installed")

// parserDirs are the directories searched, in order, for apparmor_parser.
// The caller's PATH is not used, so the environment cannot choose the binary.
var parserDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// parserEnv is the whole environment apparmor_parser runs with. Nothing of
// runcage's own environment is passed on.
var parserEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}

// ParserTimeout bounds every run of apparmor_parser, whatever the caller's
// context allows.
const ParserTimeout = 30 * time.Second

// maxStderr is how much of apparmor_parser's stderr an error keeps.
const maxStderr = 4096

// Arguments of apparmor_parser.
var (
	// validateArgs compile the profile read from stdin and stop before the
	// kernel: --skip-kernel-load, --skip-cache (neither read nor write the
	// cache).
	validateArgs = []string{"--skip-kernel-load", "--skip-cache"}
	// loadArgs compile the profile read from stdin and load it, replacing a
	// loaded profile of the same name: --replace, --skip-cache. The cache is
	// skipped because apparmor_parser cannot use or update it for stdin
	// input (it warns and ignores --write-cache).
	loadArgs = []string{"--replace", "--skip-cache"}
)

// Validate compiles text with `apparmor_parser --skip-kernel-load
// --skip-cache` (-Q -K), reading it from stdin, and returns nil if it
// compiles. It loads nothing and writes nothing, so it works on hosts
// without AppArmor in the kernel, as long as apparmor_parser and the
// abstractions it includes (/etc/apparmor.d) are installed. The error
// includes the parser's stderr. If apparmor_parser is not installed the
// error wraps ErrParserMissing. The run is bounded by ctx and by
// ParserTimeout.
func Validate(ctx context.Context, text []byte) error {
	if err := runParser(ctx, "", text, validateArgs); err != nil {
		return fmt.Errorf("validate apparmor profile: %w", err)
	}
	return nil
}

// findParser returns the path of apparmor_parser: explicit if it is not
// empty (it must be absolute), else the first executable apparmor_parser in
// parserDirs.
func findParser(explicit string) (string, error) {
	if explicit != "" && !filepath.IsAbs(explicit) {
		return "", fmt.Errorf("find apparmor_parser: %q is not an absolute path", explicit)
	}
	candidates := []string{explicit}
	if explicit == "" {
		candidates = candidates[:0]
		for _, dir := range parserDirs {
			candidates = append(candidates, filepath.Join(dir, "apparmor_parser"))
		}
	}
	for _, c := range candidates {
		fi, err := os.Stat(c)
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find apparmor_parser: %w", err)
		}
	}
	if explicit != "" {
		return "", fmt.Errorf("%w at %s", ErrParserMissing, explicit)
	}
	return "", fmt.Errorf("%w in %s", ErrParserMissing, strings.Join(parserDirs, ", "))
}

// runParser runs apparmor_parser (parser, or the one findParser finds) with
// args and text on stdin. It never uses a shell: the arguments are fixed
// and the profile only ever travels on stdin. The working directory is "/"
// so that nothing is resolved against the caller's directory (runcage runs
// in the bundle), and the environment is parserEnv.
func runParser(ctx context.Context, parser string, text []byte, args []string) error {
	if len(bytes.TrimSpace(text)) == 0 {
		return errors.New("profile text is empty")
	}
	bin, err := findParser(parser)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ParserTimeout)
	defer cancel()

	stderr := &limitedBuffer{max: maxStderr}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = slices.Clone(parserEnv)
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(text)
	cmd.Stdout = nil // discarded
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second

	cmdline := bin + " " + strings.Join(args, " ")
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		if msg := stderr.oneLine(); msg != "" {
			return fmt.Errorf("%s: %w: %s", cmdline, err, msg)
		}
		return fmt.Errorf("%s: %w", cmdline, err)
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// oneLine returns the kept output as one line: lines joined with "; ",
// blank lines dropped, and "..." if output was dropped.
func (b *limitedBuffer) oneLine() string {
	var lines []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	s := strings.Join(lines, "; ")
	if b.truncated {
		s += " ..."
	}
	return s
}
