package recorder

import "testing"

// TestTraceOfContainerThatNeverRanIsIncomplete: the final trace of an agent
// that never saw a syscall (runc failed before it loaded the filter) does
// not claim to be complete; one that saw a syscall does.
func TestTraceOfContainerThatNeverRanIsIncomplete(t *testing.T) {
	h := newTestHandler(t, ModeRecord, &fakeTarget{cwd: "/"}, nil, nil)
	if tr := h.Trace(true); tr.Complete {
		t.Errorf("trace with no syscalls is complete: %+v", tr)
	}
	h.Handle(notif(nrRead, 0, 0, 1), func() bool { return true })
	if tr := h.Trace(true); !tr.Complete || tr.Syscalls["read"] != 1 {
		t.Errorf("trace after a read: complete %v, syscalls %v", tr.Complete, tr.Syscalls)
	}
}
