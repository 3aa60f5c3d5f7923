//go:build integration

package adversarial

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

// seccompProbeOK prints Pwned when `probe ARGS` succeeded.
func seccompProbeOK(args string) string {
	return `probe ` + args + ` | grep -q '=ok$' && echo ` + Pwned + `; true`
}

// seccompSetIDScript prints Pwned when path has the set-user-ID or
// set-group-ID bit.
func seccompSetIDScript(prepare, path string) string {
	return prepare + `; case "$(stat -c %a ` + path + ` 2>/dev/null)" in [2-7][0-7][0-7][0-7]) echo ` + Pwned + `;; esac; true`
}

// TestSeccompAdversarial: class 12 (socket families), the seccomp part of
// class 3 (set-ID files) and class 11 (filter flags).
func TestSeccompAdversarial(t *testing.T) {
	RunCases(t, []Case{
		{
			Name: "af-alg-socket", Class: 12, Expect: Contained,
			Script:    seccompProbeOK("socket alg"),
			NoControl: "this kernel has no AF_ALG (CONFIG_CRYPTO_USER_API_* not set): socket(AF_ALG) fails with EAFNOSUPPORT even without a filter; the filter's rule is checked by vsock-socket and by the unit tests",
		},
		{
			Name: "af-vsock-socket", Class: 12, Expect: Contained,
			Script: seccompProbeOK("socket vsock"),
		},
		{
			Name: "af-vsock-socket-high-bits", Class: 12, Expect: Contained,
			Script: seccompProbeOK("socket vsock-high-bits"),
		},
		{
			Name: "netlink-audit-socket", Class: 12, Expect: Contained,
			Script: seccompProbeOK("socket netlink-audit"),
		},
		{
			Name: "netlink-generic-socket", Class: 12, Expect: Contained,
			Script: seccompProbeOK("socket netlink-generic"),
		},
		{
			Name: "chmod-setuid", Class: 3, Expect: Contained,
			Script: seccompSetIDScript("touch /tmp/s; chmod u+s /tmp/s", "/tmp/s"),
		},
		{
			Name: "chmod-setgid", Class: 3, Expect: Contained,
			Script: seccompSetIDScript("touch /tmp/s; chmod 2755 /tmp/s", "/tmp/s"),
		},
		{
			Name: "open-creat-setuid", Class: 3, Expect: Contained,
			Script: seccompSetIDScript("probe creat-suid /tmp/s", "/tmp/s"),
		},
		{
			Name: "open-tmpfile-setgid", Class: 3, Expect: Contained,
			Script: seccompProbeOK("tmpfile-suid /tmp"),
		},
		{
			Name: "mknod-setuid", Class: 3, Expect: Contained,
			Script: seccompSetIDScript("mknod -m 4755 /tmp/s p", "/tmp/s"),
		},
		{
			Name: "spec-allow-flag", Class: 11, Expect: Refused,
			Script: "true",
			Mutate: func(_ *Env, s *specs.Spec) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64},
					Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow},
				}
			},
			Want:      []string{`"SECCOMP_FILTER_FLAG_SPEC_ALLOW" refused`, "speculative store bypass"},
			NoControl: "this host reports spec_store_bypass \"Vulnerable\" (no SSBD mitigation offered to the VM), so /proc/self/status shows \"vulnerable\" with or without the flag",
		},
	})
}

// TestSeccompOrdinaryPrograms: what the default filter still lets an
// ordinary program do, under runcage's default profile.
func TestSeccompOrdinaryPrograms(t *testing.T) {
	e := NewEnv(t, "")
	script := `
touch /tmp/n && chmod 755 /tmp/n && echo chmod=$(stat -c %a /tmp/n)
chmod u+s /tmp/n 2>&1 | grep -q 'Operation not permitted' && echo setuid=EPERM
mkdir /tmp/d && chmod 1777 /tmp/d && echo sticky=$(stat -c %a /tmp/d)
echo x > /tmp/w && cp -a /tmp/w /tmp/w2 && echo cp=$(stat -c %a /tmp/w2)
probe socket unix; probe socket inet; probe socket netlink-route
probe socket netlink-audit; probe socket vsock
probe openat2 /etc/passwd
probe creat-suid /tmp/c
`
	bundle := e.Bundle("ordinary", Spec(script), nil, integration.RootfsOptions{})
	res := e.Run(e.Runcage(""), bundle)
	if res.Exit != 0 {
		t.Fatalf("container failed: %s\nlog: %s", res, readFile(e.Runcage("").Log))
	}
	for _, want := range []string{
		"chmod=755", "setuid=EPERM", "sticky=1777", "cp=644",
		"probe socket=ok\nprobe socket=ok\nprobe socket=ok\n",
		"probe socket=EPROTONOSUPPORT\nprobe socket=EAFNOSUPPORT\n",
		"probe openat2=ENOSYS", "probe creat-suid=EPERM",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stdout)
		}
	}
}
