package client

import (
	"bytes"
	"context"
	"fmt"
	"hash"
	"io"
	"os"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// resumeMinBytes is the smallest file for which the client asks the server
// whether it kept part of an interrupted upload: the server keeps nothing
// shorter than 1 MiB, so for smaller files the question is a wasted round
// trip.
const resumeMinBytes = 1 << 20

// findResume asks the server what it kept of an interrupted upload of the
// file f, described by local, and checks it against the start of f. When
// the server's kept bytes are the same as the start of f, it returns where
// to resume, with h holding the SHA-256 state of those bytes and f
// positioned after them. Otherwise it returns nil with h reset and f at
// its start. Only a transient failure to ask is returned as an error;
// other failures mean sending the file whole.
func (c *Client) findResume(ctx context.Context, f *os.File, local engine.Entry, h hash.Hash) (*dirsyncv1.ResumeFrom, error) {
	if local.Size < resumeMinBytes || c.noPartials.Load() {
		return nil, nil
	}
	req := &dirsyncv1.GetPartialRequest{}
	req.Path, req.RawPath = engine.WirePath(local.Path)
	resp, err := c.rpc.GetPartial(ctx, connect.NewRequest(req))
	switch {
	case err == nil:
	case connect.CodeOf(err) == connect.CodeUnimplemented:
		// A server from before resumable uploads: stop asking.
		c.noPartials.Store(true)
		return nil, nil
	case transient(err) || ctx.Err() != nil:
		return nil, fmt.Errorf("get partial: %w", err)
	default:
		c.log.Debug("cannot ask for a partial upload; sending the whole file", "path", local.Path, "err", err)
		return nil, nil
	}
	size, sum := resp.Msg.GetSize(), resp.Msg.GetSha256()
	if size <= 0 || size > local.Size || len(sum) != 32 {
		return nil, nil
	}
	n, err := io.Copy(h, io.NewSectionReader(f, 0, size))
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), sum) {
		h.Reset()
		c.log.Debug("partial upload on the server differs from the file; sending it whole", "path", local.Path, "bytes", size)
		return nil, nil
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		h.Reset()
		return nil, nil
	}
	c.log.Debug("resuming upload", "path", local.Path, "from", size)
	return &dirsyncv1.ResumeFrom{Offset: size, Sha256: sum}, nil
}
