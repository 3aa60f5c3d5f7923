package policy

import (
	"slices"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/caps"
)

// RecordsCapabilities reports whether the built-in record profile keeps
// capabilities under this policy: record_capabilities, true when absent.
//
// It is on by default because a recording is only as good as the run it
// watched: a server that binds port 80, or starts as root and switches to
// its user, dies under a profile without capabilities, and the trace of
// that failed start yields a profile that fails too. What record grants is
// bounded four ways: only what the bundle asked for (an engine asks for its
// default set, `runc spec` for three), never beyond caps.EngineDefault (a
// bundle asking for CAP_SYS_ADMIN is refused, as under default), inside the
// user namespace record requires (so they act on the container's own ids,
// network and files, never the host's), and under no_new_privs and
// default's seccomp filter (no mount, no ptrace, no new user namespace).
// `profile generate` then keeps only the capabilities the trace shows were
// used. A pod author cannot reach it through the runcage.dev/profile
// annotation from a profile that keeps fewer capabilities: AtLeastAsStrict
// refuses a profile that keeps a capability its base does not. An
// administrator who records untrusted workloads on a shared host, and
// prefers record to keep none, sets record_capabilities = false.
func (p *Policy) RecordsCapabilities() bool {
	return p.RecordCapabilities == nil || *p.RecordCapabilities
}

// withRecordCapabilities returns b, the built-in profile of its name, with
// what the policy adds to it: the built-in record profile keeps
// caps.EngineDefault when RecordsCapabilities. Every other built-in, and a
// record profile the policy or profiles_dir defines (which lists its own
// capabilities), is returned unchanged.
func (p *Policy) withRecordCapabilities(b *profiles.Profile) *profiles.Profile {
	if b.Name == "record" && b.Record && p.RecordsCapabilities() {
		b.Capabilities = slices.Clone(caps.EngineDefault)
		b.Description += "; it keeps the capabilities the bundle asks for, up to the engines' default set (policy key record_capabilities)"
	}
	return b
}
