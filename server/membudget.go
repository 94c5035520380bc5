package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/semaphore"
)

// DefaultMaxMemoryBytes is the default of [Options.MaxMemoryBytes]: 128 MiB
// of request buffers in flight, for the whole process. With the Go
// runtime's own overhead and the garbage collector's headroom that keeps
// the server's resident memory under 256 MiB under load.
const DefaultMaxMemoryBytes = 128 << 20

// memoryWait bounds how long a request waits for room in the memory
// budget before it is refused with ResourceExhausted: long enough to ride
// out a burst, short enough that a client learns of an overload.
const memoryWait = 10 * time.Second

// memBudget is the process's budget for the memory that peers' requests
// make the server allocate: the wire bytes, decompressed bytes and
// decoded message of every request message in flight (see [meterBodies]).
// Per-stream and per-tenant limits bound one peer; this bounds all of
// them together. It is safe for concurrent use.
type memBudget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

// newMemBudget returns a budget of size bytes.
func newMemBudget(size int64) *memBudget {
	return &memBudget{sem: semaphore.NewWeighted(size), size: size, wait: memoryWait}
}

// acquire reserves n bytes, waiting for room at most b.wait and while ctx
// lasts, and returns how many it reserved: n, or the whole budget when n
// is larger, so that one message larger than the budget is still served
// alone. Out of time it returns a ResourceExhausted error naming the
// budget; ctx's end is returned as Connect's code for it.
func (b *memBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.size)
	if n <= 0 {
		return 0, nil
	}
	if b.sem.TryAcquire(n) {
		return n, nil
	}
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			code := connect.CodeCanceled
			if errors.Is(cerr, context.DeadlineExceeded) {
				code = connect.CodeDeadlineExceeded
			}
			return 0, connect.NewError(code, cerr)
		}
		return 0, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("server memory budget exhausted: %d bytes needed of %d in flight (--max-memory-bytes); retry later", n, b.size))
	}
	return n, nil
}

// release returns n bytes reserved by acquire.
func (b *memBudget) release(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}
