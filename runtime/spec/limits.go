package spec

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFileSize is the largest file runcage reads as configuration: a bundle's
// config.json, an exec process file, a resources file, a policy or profile,
// a seccomp filter, a state record. A Kubernetes pod is at most 1.5 MB
// (etcd's request limit), so even a config.json that carries all of a pod's
// environment and annotations plus an image's is far below it; runc sets no
// limit, but runcage parses each file more than once and must not let a
// bundle decide how much memory a root process on every node uses.
const MaxFileSize = 4 << 20

// MaxDepth is the deepest nesting of JSON arrays and objects runcage
// accepts. The OCI runtime-spec's deepest path (linux.seccomp.syscalls[].
// args[]) is 5 levels, and no real config.json reaches 10.
const MaxDepth = 64

// ErrTooLarge classifies input refused because it exceeds MaxFileSize or
// MaxDepth, before any of it is decoded.
var ErrTooLarge = errors.New("input exceeds runcage's limits")

// CheckJSONLimits refuses, with an error satisfying errors.Is(err,
// ErrTooLarge), JSON text longer than MaxFileSize bytes or nesting arrays
// and objects deeper than MaxDepth. It is a single pass over the bytes that
// tracks depth outside strings and allocates nothing, so the cost of
// refusing hostile input is bounded by its size, not by what decoding it
// would build. It does not check that data is valid JSON: the decoder that
// runs after it does.
func CheckJSONLimits(data []byte) error {
	return checkJSONLimits(data, MaxFileSize, MaxDepth)
}

func checkJSONLimits(data []byte, maxSize, maxDepth int) error {
	if len(data) > maxSize {
		return fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, len(data), maxSize)
	}
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: arrays and objects nested more than %d deep (at byte %d)", ErrTooLarge, maxDepth, i)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// ReadLimited reads the regular file at path, as ReadFile does, refusing
// with an error satisfying errors.Is(err, ErrTooLarge) a file longer than
// max bytes. It never reads more than max+1 bytes, whatever the file's size
// claims (a file in /proc or one growing while it is read).
func ReadLimited(path string, max int64) ([]byte, os.FileMode, error) {
	data, st, err := readLimitedStat(path, max)
	if err != nil {
		return nil, 0, err
	}
	return data, st.Mode().Perm(), nil
}

// readLimitedStat is ReadLimited, returning what fstat said of the file
// that was read.
func readLimitedStat(path string, max int64) ([]byte, os.FileInfo, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > max {
		return nil, nil, fmt.Errorf("%s: %w: %d bytes, more than the limit of %d", path, ErrTooLarge, st.Size(), max)
	}
	data, err := readAllSized(f, st.Size(), max)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, st, nil
}

// readAllSized is ReadAllLimited for a file whose size was size when it
// was opened: it reads into one buffer of that size (plus one byte, to see
// the end), rather than growing one from 512 bytes.
func readAllSized(r io.Reader, size, max int64) ([]byte, error) {
	data := make([]byte, 0, min(size, max)+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadAllLimited reads r to its end, refusing with an error satisfying
// errors.Is(err, ErrTooLarge) more than max bytes. It reads at most max+1.
func ReadAllLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return data, nil
}

// ReadTrusted reads a file the host's administrator owns (the policy, a
// profile), following symlinks as configuration management tools and
// Kubernetes ConfigMap volumes create them, and refusing with an error
// satisfying errors.Is(err, ErrTooLarge) a file longer than MaxFileSize.
// The file, what its symlinks lead to, and every directory above them must
// be owned by root and writable by no one else (CheckTrusted): whoever can
// write runcage's policy decides every container's profile. Errors from
// opening the file keep their cause (errors.Is(err, fs.ErrNotExist) holds
// for a missing file).
func ReadTrusted(path string) ([]byte, error) {
	if err := CheckTrusted("configuration file", path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := ReadAllLimited(f, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
