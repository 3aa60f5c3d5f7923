package shim

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// startInput is what containerd sends on the standard input of the
// shim's `start`:
//
//   - containerd 1.6 and 1.7: the task's runtime options alone, as a
//     protobuf Any;
//   - containerd 2.3 and later: BootstrapParams
//     (containerd.runtime.bootstrap.v1), whose extensions (field 8, each
//     an Extension with the Any in field 1) carry the runtime options and
//     whose socket_dir (field 9) may name the directory for the shim's
//     socket.
//
// The two are told apart by their fields: an Any has only fields 1 and
// 2, and containerd always sets BootstrapParams' containerd_version
// (field 4) and addresses (fields 5, 6). The shim is built on containerd
// 1.7's packages, which know nothing of BootstrapParams, so it is decoded
// here by its field numbers.
type startInput struct {
	// Options are the runtime options sent, in order.
	Options []*anypb.Any
	// SocketDir is BootstrapParams' socket_dir, or "".
	SocketDir string
}

// readStartInput reads and decodes start's standard input (see
// startInput). Nothing on it is no options; input that is neither form
// is an error.
func readStartInput(r io.Reader) (startInput, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return startInput{}, fmt.Errorf("read start input: %w", err)
	}
	return decodeStartInput(data)
}

// decodeStartInput decodes start's standard input (see startInput).
func decodeStartInput(data []byte) (startInput, error) {
	var in startInput
	if len(data) == 0 {
		return in, nil
	}
	bootstrap := false
	var extensions [][]byte
	err := eachField(data, func(num protowire.Number, v []byte) {
		bootstrap = bootstrap || num >= 3
		switch {
		case num == 8 && v != nil:
			extensions = append(extensions, v)
		case num == 9 && v != nil:
			in.SocketDir = string(v)
		}
	})
	if err != nil {
		return startInput{}, fmt.Errorf("start input: %w", err)
	}
	if !bootstrap {
		a := &anypb.Any{}
		if err := proto.Unmarshal(data, a); err != nil {
			return startInput{}, fmt.Errorf("start input: runtime options: %w", err)
		}
		in.Options = []*anypb.Any{a}
		return in, nil
	}
	for _, ext := range extensions {
		// Extension { google.protobuf.Any value = 1; }
		var values [][]byte
		if err := eachField(ext, func(num protowire.Number, v []byte) {
			if num == 1 && v != nil {
				values = append(values, v)
			}
		}); err != nil {
			return startInput{}, fmt.Errorf("start input: extension: %w", err)
		}
		for _, v := range values {
			a := &anypb.Any{}
			if err := proto.Unmarshal(v, a); err != nil {
				return startInput{}, fmt.Errorf("start input: extension: %w", err)
			}
			in.Options = append(in.Options, a)
		}
	}
	if in.SocketDir != "" && !filepath.IsAbs(in.SocketDir) {
		return startInput{}, fmt.Errorf("start input: socket_dir %q is not an absolute path", in.SocketDir)
	}
	return in, nil
}

// eachField calls f with the number of each field of the protobuf
// message b, in order, and the contents of a length-delimited field (nil
// for the other wire types). A malformed message is an error.
func eachField(b []byte, f func(num protowire.Number, v []byte)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		var v []byte
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(b[:m])
			if v == nil {
				v = []byte{}
			}
		}
		f(num, v)
		b = b[m:]
	}
	return nil
}

// ShimCgroup returns the ShimCgroup of the runc options among in.Options,
// or "": the cgroup containerd's runc shim puts itself in. Options of
// other types (runtimeoptions.Options, the CRI's sandbox config) have
// none.
func (in startInput) ShimCgroup() (string, error) {
	for _, a := range in.Options {
		if !typeurl.Is(a, &runcoptions.Options{}) {
			continue
		}
		v, err := typeurl.UnmarshalAny(a)
		if err != nil {
			return "", fmt.Errorf("start input: runc options: %w", err)
		}
		o, ok := v.(*runcoptions.Options)
		if !ok {
			return "", errors.New("start input: runc options of an unexpected type")
		}
		if o.ShimCgroup != "" {
			return o.ShimCgroup, nil
		}
	}
	return "", nil
}
