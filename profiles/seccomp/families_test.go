package seccomp

import (
	"errors"
	"reflect"
	"testing"
)

func TestAllowSocketFamilies(t *testing.T) {
	const (
		allowed  = "SCMP_ACT_ALLOW"
		noFamily = "SCMP_ACT_ERRNO(97)"
		noProto  = "SCMP_ACT_ERRNO(93)"
	)
	type call struct {
		args [6]uint64
		want string
	}
	for _, tc := range []struct {
		names []string
		calls []call
	}{
		{nil, []call{{[6]uint64{38}, noFamily}, {[6]uint64{16, 3, 16}, noProto}, {[6]uint64{1}, allowed}}},
		{[]string{"AF_ALG"}, []call{{[6]uint64{38}, allowed}, {[6]uint64{40}, noFamily}, {[6]uint64{16, 3, 9}, noProto}}},
		{[]string{"NETLINK_GENERIC"}, []call{{[6]uint64{16, 3, 16}, allowed}, {[6]uint64{16, 3, 9}, noProto}, {[6]uint64{38}, noFamily}}},
		{[]string{"NETLINK_AUDIT", "AF_NETLINK"}, []call{{[6]uint64{16, 3, 9}, allowed}, {[6]uint64{16, 3, 31}, allowed}, {[6]uint64{16, 3, 99}, allowed}}},
		{[]string{"AF_INET", "AF_PACKET", "AF_PACKET"}, []call{{[6]uint64{2}, allowed}, {[6]uint64{17}, allowed}, {[6]uint64{44}, noFamily}}},
	} {
		got, err := AllowSocketFamilies(Default(), tc.names)
		if err != nil {
			t.Fatalf("%v: %v", tc.names, err)
		}
		for _, name := range socketCalls {
			for _, c := range tc.calls {
				if r := evalRules(t, got, name, c.args); r != c.want {
					t.Errorf("%v: %s%v: %s, want %s", tc.names, name, c.args, r, c.want)
				}
			}
		}
		// Only socket and socketpair change.
		a, b := view(t, got), view(t, Default())
		for _, n := range socketCalls {
			delete(a, n)
			delete(b, n)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%v: rules of other syscalls changed", tc.names)
		}
		// In canonical form, and libseccomp accepts it.
		if again, err := Tighten(got, nil); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%v: not in Tighten's form (err %v)", tc.names, err)
		}
		if err := Compile(got); err != nil && !errors.Is(err, ErrSeccompNotEnabled) {
			t.Errorf("%v: Compile: %v", tc.names, err)
		}
	}
	for _, bad := range []string{"AF_FOO", "af_alg", "38", ""} {
		if _, err := AllowSocketFamilies(Default(), []string{bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}
