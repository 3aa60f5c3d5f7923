package runtime

import "errors"

// cleanup is the undo stack of one transaction (gVisor's pkg/cleanup is the
// pattern): each side-effecting step adds its undo right after it succeeds;
// Run undoes every step in reverse order when the transaction fails;
// Release hands the steps over once it has succeeded, for an undo later.
// The zero value is an empty stack. A cleanup is not safe for concurrent
// use.
type cleanup struct {
	steps []func() error
}

// Add pushes the undo of a step that has just succeeded.
func (c *cleanup) Add(undo func() error) {
	c.steps = append(c.steps, undo)
}

// Run undoes every step, the last added first, and empties the stack. It
// runs them all even when some fail, and returns their errors joined.
func (c *cleanup) Run() error {
	var errs []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		if err := c.steps[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.steps = nil
	return errors.Join(errs...)
}

// Release empties the stack and returns a function that undoes the
// released steps, as Run would, once; later calls do nothing.
func (c *cleanup) Release() func() error {
	rel := &cleanup{steps: c.steps}
	c.steps = nil
	return rel.Run
}
