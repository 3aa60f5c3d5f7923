package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// socketFamilies are the address families of Linux 6.x (include/linux/
// socket.h), by name. runtime/default allows AF_UNIX, AF_INET, AF_INET6 and
// some AF_NETLINK protocols, and answers the others with EAFNOSUPPORT.
var socketFamilies = map[string]uint64{
	"AF_UNSPEC": 0, "AF_UNIX": 1, "AF_INET": 2, "AF_AX25": 3, "AF_IPX": 4,
	"AF_APPLETALK": 5, "AF_NETROM": 6, "AF_BRIDGE": 7, "AF_ATMPVC": 8,
	"AF_X25": 9, "AF_INET6": 10, "AF_ROSE": 11, "AF_DECnet": 12,
	"AF_NETBEUI": 13, "AF_SECURITY": 14, "AF_KEY": 15, "AF_NETLINK": 16,
	"AF_PACKET": 17, "AF_ASH": 18, "AF_ECONET": 19, "AF_ATMSVC": 20,
	"AF_RDS": 21, "AF_SNA": 22, "AF_IRDA": 23, "AF_PPPOX": 24,
	"AF_WANPIPE": 25, "AF_LLC": 26, "AF_IB": 27, "AF_MPLS": 28, "AF_CAN": 29,
	"AF_TIPC": 30, "AF_BLUETOOTH": 31, "AF_IUCV": 32, "AF_RXRPC": 33,
	"AF_ISDN": 34, "AF_PHONET": 35, "AF_IEEE802154": 36, "AF_CAIF": 37,
	"AF_ALG": 38, "AF_NFC": 39, "AF_VSOCK": 40, "AF_KCM": 41,
	"AF_QIPCRTR": 42, "AF_SMC": 43, "AF_XDP": 44, "AF_MCTP": 45,
}

// netlinkProtocols are the AF_NETLINK protocols (include/uapi/linux/
// netlink.h), by name. runtime/default allows NETLINK_ROUTE,
// NETLINK_SOCK_DIAG and NETLINK_KOBJECT_UEVENT and answers the others with
// EPROTONOSUPPORT.
var netlinkProtocols = map[string]uint64{
	"NETLINK_ROUTE": 0, "NETLINK_UNUSED": 1, "NETLINK_USERSOCK": 2,
	"NETLINK_FIREWALL": 3, "NETLINK_SOCK_DIAG": 4, "NETLINK_NFLOG": 5,
	"NETLINK_XFRM": 6, "NETLINK_SELINUX": 7, "NETLINK_ISCSI": 8,
	"NETLINK_AUDIT": 9, "NETLINK_FIB_LOOKUP": 10, "NETLINK_CONNECTOR": 11,
	"NETLINK_NETFILTER": 12, "NETLINK_IP6_FW": 13, "NETLINK_DNRTMSG": 14,
	"NETLINK_KOBJECT_UEVENT": 15, "NETLINK_GENERIC": 16,
	"NETLINK_SCSITRANSPORT": 18, "NETLINK_ECRYPTFS": 19, "NETLINK_RDMA": 20,
	"NETLINK_CRYPTO": 21, "NETLINK_SMC": 22,
}

// socketCalls are the syscalls whose first argument is an address family
// and whose third is a protocol: socketpair creates its sockets with the
// same code as socket before it fails for families without pairs.
var socketCalls = []string{"socket", "socketpair"}

const afNetlink = 16

// CheckSocketFamily returns an error satisfying errors.Is(err, ErrInvalid)
// unless name is an address family ("AF_ALG") or a netlink protocol
// ("NETLINK_GENERIC") that AllowSocketFamilies knows.
func CheckSocketFamily(name string) error {
	if _, ok := socketFamilies[name]; ok {
		return nil
	}
	if _, ok := netlinkProtocols[name]; ok {
		return nil
	}
	return fmt.Errorf("%w: %q is neither an address family (AF_*) nor a netlink protocol (NETLINK_*) of Linux", ErrInvalid, name)
}

// AllowSocketFamilies returns a copy of f, runtime/default's filter (Default),
// in which socket and socketpair are also allowed for the named address
// families and netlink protocols. An address family replaces the rules for
// that family's value (AF_NETLINK: every netlink protocol); a netlink
// protocol replaces the rules for AF_NETLINK with that protocol. Nothing
// else changes. Each name must pass CheckSocketFamily.
func AllowSocketFamilies(f *specs.LinuxSeccomp, names []string) (*specs.LinuxSeccomp, error) {
	if err := validate(f); err != nil {
		return nil, fmt.Errorf("widen socket families: %w", err)
	}
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	// For each name: the conditions of the new allowing rule, and which
	// existing rules it replaces.
	type widening struct {
		args     []specs.LinuxSeccompArg
		replaces func(rule) bool
	}
	var ws []widening
	for _, n := range names {
		if err := CheckSocketFamily(n); err != nil {
			return nil, fmt.Errorf("widen socket families: %w", err)
		}
		if fam, ok := socketFamilies[n]; ok {
			ws = append(ws, widening{
				args: []specs.LinuxSeccompArg{eq(0, fam)},
				replaces: func(r rule) bool {
					v, ok := eqValue(r.args, 0)
					return ok && v == fam
				},
			})
			continue
		}
		proto := netlinkProtocols[n]
		ws = append(ws, widening{
			args: []specs.LinuxSeccompArg{eq(0, afNetlink), eq(2, proto)},
			replaces: func(r rule) bool {
				f, fok := eqValue(r.args, 0)
				p, pok := eqValue(r.args, 2)
				return fok && pok && f == afNetlink && p == proto && len(r.args) == 2
			},
		})
	}
	ix := index(f)
	perName := make(map[string][]rule, len(ix.byName))
	for n, rules := range ix.byName {
		perName[n] = slices.Clone(rules)
	}
	for _, w := range ws {
		add := newRule(specs.ActAllow, nil, w.args)
		for _, n := range socketCalls {
			rules := slices.DeleteFunc(perName[n], w.replaces)
			if !slices.ContainsFunc(rules, func(r rule) bool { return r.key() == add.key() || (allowLike(r.action) && implies(add, r)) }) {
				rules = append(rules, add)
			}
			perName[n] = rules
		}
	}
	out := clone(f)
	out.Syscalls = group(perName, ix.defRule.actionKey())
	if err := validate(out); err != nil {
		return nil, fmt.Errorf("widen socket families: %w", err)
	}
	return out, nil
}
