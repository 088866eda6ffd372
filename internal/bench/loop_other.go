//go:build !linux

package bench

import (
	"context"
	"fmt"
)

// loopSupported reports whether Config.EventLoop can be used here.
const loopSupported = false

func runLoop(context.Context, []*worker, *shared) error {
	return fmt.Errorf("%w: the event loop needs Linux", ErrConfig)
}

func (c *conn) closeFD() {}
