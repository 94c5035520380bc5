package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// fetchSignature returns the signature of the server's copy of path, signed
// with blockSize (0 lets the server choose), and the SHA-256 of that copy.
// The signature is validated before it is returned.
func (c *Client) fetchSignature(ctx context.Context, path string, blockSize int) (*engine.Signature, []byte, error) {
	req := &dirsyncv1.GetSignatureRequest{BlockSize: uint32(blockSize)}
	req.Path, req.RawPath = engine.WirePath(path)
	stream, err := c.rpc.GetSignature(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, nil, fmt.Errorf("get signature: %w", err)
	}
	defer stream.Close()
	var (
		sig    *engine.Signature
		sha    []byte
		blocks int64
	)
	for stream.Receive() {
		msg := stream.Msg()
		if sig == nil {
			h := msg.GetHeader()
			if h == nil {
				return nil, nil, fmt.Errorf("get signature: first message without header")
			}
			if h.GetStrongSize() != engine.StrongSize {
				return nil, nil, fmt.Errorf("get signature: strong size %d, want %d", h.GetStrongSize(), engine.StrongSize)
			}
			if len(h.GetSha256()) != 32 {
				return nil, nil, fmt.Errorf("get signature: sha256 of %d bytes", len(h.GetSha256()))
			}
			layout := engine.Layout{BlockSize: int(h.GetBlockSize()), FileSize: h.GetFileSize()}
			if err := layout.Validate(); err != nil {
				return nil, nil, fmt.Errorf("get signature: %w", err)
			}
			blocks = layout.NumBlocks()
			sha = h.GetSha256()
			// Allocate as the blocks arrive, not from the header's claim.
			sig = &engine.Signature{BlockSize: layout.BlockSize, FileSize: layout.FileSize}
		} else if msg.GetHeader() != nil {
			return nil, nil, fmt.Errorf("get signature: header repeated")
		}
		if int64(len(sig.Weak)+len(msg.GetWeak())) > blocks {
			return nil, nil, fmt.Errorf("get signature: more than %d blocks", blocks)
		}
		if len(msg.GetStrong()) != len(msg.GetWeak())*engine.StrongSize {
			return nil, nil, fmt.Errorf("get signature: %d strong bytes for %d blocks", len(msg.GetStrong()), len(msg.GetWeak()))
		}
		sig.Weak = append(sig.Weak, msg.GetWeak()...)
		sig.Strong = append(sig.Strong, msg.GetStrong()...)
	}
	if err := stream.Err(); err != nil {
		return nil, nil, fmt.Errorf("get signature: %w", err)
	}
	if sig == nil {
		return nil, nil, fmt.Errorf("get signature: empty answer")
	}
	if err := sig.Validate(); err != nil {
		return nil, nil, fmt.Errorf("get signature: %w", err)
	}
	return sig, sha, nil
}
