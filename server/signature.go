package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// signatureChunkBlocks is the most blocks one GetSignatureResponse carries:
// 8192 blocks of 4+16 bytes make 160 KiB messages.
const signatureChunkBlocks = 8192

// GetSignature streams the signature of the regular file at the requested
// path: a first message with the header, then the weak and strong
// checksums of at most [signatureChunkBlocks] blocks per message. A block
// size of 0 lets the engine choose one from the file's size; any other
// must lie in [engine.MinBlockSize, engine.MaxBlockSize]. The file's
// SHA-256 comes from the content index, or when the file changed behind
// the server's back, is computed in the same pass and recorded there.
func (s *Server) GetSignature(ctx context.Context, req *connect.Request[dirsyncv1.GetSignatureRequest], stream *connect.ServerStream[dirsyncv1.GetSignatureResponse]) error {
	rel, err := pathFromProto("path", req.Msg.GetPath(), req.Msg.GetRawPath())
	if err != nil {
		return s.connectError("get signature", rel, err)
	}
	hdr, sig, err := s.sign(rel, req.Msg.GetBlockSize())
	if err != nil {
		return s.connectError("get signature", rel, err)
	}
	if err := stream.Send(&dirsyncv1.GetSignatureResponse{Header: hdr}); err != nil {
		return err
	}
	for b := 0; b < sig.NumBlocks(); b += signatureChunkBlocks {
		end := min(b+signatureChunkBlocks, sig.NumBlocks())
		msg := &dirsyncv1.GetSignatureResponse{
			Weak:   sig.Weak[b:end],
			Strong: sig.Strong[b*engine.StrongSize : end*engine.StrongSize],
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	s.log.Debug("signature sent", "path", rel, "bytes", hdr.GetFileSize(), "block_size", hdr.GetBlockSize())
	return nil
}

// sign computes the signature of the regular file rel with the given block
// size (0 for adaptive) and its header, SHA-256 included.
func (s *Server) sign(rel string, blockSize uint32) (*dirsyncv1.SignatureHeader, *engine.Signature, error) {
	if err := checkPath(rel); err != nil {
		return nil, nil, err
	}
	if blockSize != 0 && (blockSize < engine.MinBlockSize || blockSize > engine.MaxBlockSize) {
		return nil, nil, invalidf("block size %d outside [%d, %d]", blockSize, engine.MinBlockSize, engine.MaxBlockSize)
	}
	if _, err := s.checkParents(rel); err != nil {
		return nil, nil, err
	}
	info, err := s.root.Lstat(rel)
	if err != nil {
		return nil, nil, fmt.Errorf("lstat %q: %w", rel, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, refuse(errNotRegular, "path %q: not a regular file on the server", rel)
	}
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, nil, fmt.Errorf("open %q: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %q: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, refuse(errNotRegular, "path %q: not a regular file on the server", rel)
	}
	// The index knows the SHA-256 of a file whose size and mtime it
	// recorded; only other files are hashed, in the same read.
	c, known := s.index.get(rel)
	known = known && c.matches(fi.Size(), fi.ModTime().UnixNano())
	var r io.Reader = f
	h := sha256.New()
	if !known {
		r = io.TeeReader(f, h)
	}
	sig, err := engine.Sign(r, fi.Size(), int(blockSize))
	if err != nil {
		return nil, nil, fmt.Errorf("sign %q: %w", rel, err)
	}
	if !known {
		c = content{size: sig.FileSize, mtimeNs: fi.ModTime().UnixNano()}
		h.Sum(c.sum[:0])
		if sig.FileSize == fi.Size() {
			s.index.put(rel, c)
		}
	}
	hdr := &dirsyncv1.SignatureHeader{
		BlockSize:  uint32(sig.BlockSize),
		FileSize:   sig.FileSize,
		StrongSize: engine.StrongSize,
		Sha256:     c.sum[:],
	}
	return hdr, sig, nil
}
