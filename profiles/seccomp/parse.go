package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/runtime/spec"
)

// Parse decodes an OCI seccomp filter, the value of linux.seccomp in
// config.json. It refuses malformed JSON, trailing data, and fields the
// runtime-spec does not define at any level, so a Docker-format profile
// ("archMap", "includes", "excludes", "comment") is refused rather than
// read with its capability conditions silently dropped. It then checks the
// filter as described for ErrInvalid. Errors from the JSON decoder and from
// the check both satisfy errors.Is(err, ErrInvalid). Data longer than
// spec.MaxFileSize or nested deeper than spec.MaxDepth is refused before it
// is decoded.
func Parse(data []byte) (*specs.LinuxSeccomp, error) {
	if err := spec.CheckJSONLimits(data); err != nil {
		return nil, fmt.Errorf("parse seccomp filter: %w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f specs.LinuxSeccomp
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse seccomp filter: %w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse seccomp filter: %w: data after the JSON object", ErrInvalid)
	}
	if err := validate(&f); err != nil {
		return nil, fmt.Errorf("parse seccomp filter: %w", err)
	}
	return &f, nil
}

// Load reads and parses the OCI seccomp filter in the file at path, as Parse
// does. The file may be a symlink (profiles are the administrator's), but
// no more than spec.MaxFileSize bytes of it are read.
func Load(path string) (*specs.LinuxSeccomp, error) {
	data, err := spec.ReadTrusted(path)
	if err != nil {
		return nil, fmt.Errorf("load seccomp filter: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return f, nil
}
