package runtime

import (
	"errors"
	"slices"
	"testing"
)

func TestCleanup(t *testing.T) {
	var got []int
	step := func(n int, err error) func() error {
		return func() error { got = append(got, n); return err }
	}
	boom := errors.New("boom")

	var c cleanup
	c.Add(step(1, nil))
	c.Add(step(2, boom))
	c.Add(step(3, nil))
	if err := c.Run(); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the failing step's error", err)
	}
	if !slices.Equal(got, []int{3, 2, 1}) {
		t.Fatalf("Run order %v, want every step, last first", got)
	}
	got = nil
	if err := c.Run(); err != nil || got != nil {
		t.Fatalf("second Run ran %v (%v): the stack must be empty", got, err)
	}

	c.Add(step(4, nil))
	c.Add(step(5, nil))
	undo := c.Release()
	if err := c.Run(); err != nil || got != nil {
		t.Fatalf("Run after Release ran %v: released steps belong to the caller", got)
	}
	if err := undo(); err != nil || !slices.Equal(got, []int{5, 4}) {
		t.Fatalf("released undo ran %v (%v), want [5 4]", got, err)
	}
	got = nil
	if err := undo(); err != nil || got != nil {
		t.Fatalf("released undo ran twice: %v", got)
	}
}
