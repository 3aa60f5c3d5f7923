//go:build linux && cgo

package main

// start.c holds a C constructor that answers containerd's `start` before
// the Go runtime starts, when it is certain to do what manager.Start
// (runtime/shim) would: find or create the shim socket of the task's
// group, start the shim server, write the bundle's address file and print
// the address. Anything else continues in Go as before, with the standard
// input it read handed back. RUNCAGE_SHIM_NO_FASTPATH=1 turns it off.

// #include <stdlib.h>
// #include "shimc.h"
// extern const char *const shim_runc_options_url;
// int shim_grouping(const unsigned char *data, size_t len, const unsigned char **g, size_t *gn);
import "C"

import "unsafe"

// cSHA256 is shimc.c's SHA-256, for the tests.
func cSHA256(b []byte) [32]byte {
	var out [32]byte
	p := C.CBytes(b)
	defer C.free(p)
	C.shim_sha256((*C.uchar)(p), C.size_t(len(b)), (*C.uchar)(unsafe.Pointer(&out[0])))
	return out
}

// cRuncOptionsURL is the type URL start.c takes for runc's options.
func cRuncOptionsURL() string { return C.GoString(C.shim_runc_options_url) }

// cGrouping is start.c's scan of config.json, for the tests: ok reports
// whether it read the text, found whether a grouping label was set, g
// its value.
func cGrouping(b []byte) (g string, found, ok bool) {
	p := C.CBytes(b)
	defer C.free(p)
	var gp *C.uchar
	var gn C.size_t
	if C.shim_grouping((*C.uchar)(p), C.size_t(len(b)), &gp, &gn) == 0 {
		return "", false, false
	}
	if gp == nil {
		return "", false, true
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(gp)), C.int(gn)), true, true
}
