package seccomp

import "errors"

// ErrSeccompNotEnabled is returned by Compile in a binary built without cgo
// or without the seccomp build tag, where libseccomp is not linked in.
var ErrSeccompNotEnabled = errors.New("seccomp: built without libseccomp (needs cgo and the seccomp build tag)")

// maxInsns is the largest BPF program the kernel loads (BPF_MAXINSNS).
const maxInsns = 4096
