package server

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Upload receives the contents of files, one after another, and answers
// each with one UploadResponse once it is verified and in place or has
// failed. Files of one stream are received in order and answered in the
// same order; a [committer] makes verified files durable in groups while
// the next ones arrive. Streams run concurrently, and uploads of the same
// path wait for each other.
//
// A failure of one file (a bad header or operation, a changed base, a
// checksum mismatch, a full disk) is reported in its response: the server
// skips the rest of that file's messages up to its finish and goes on with
// the next file. Only messages that break the stream's framing end the
// stream with an InvalidArgument error: operations or a finish outside a
// file, a header before the previous file finished, or the end of the
// stream in the middle of a file. A stream beyond [Options.MaxUploadStreams]
// is refused with ResourceExhausted.
func (s *Server) Upload(ctx context.Context, stream *connect.BidiStream[dirsyncv1.UploadRequest, dirsyncv1.UploadResponse]) error {
	return s.upload(ctx, &connectUploadStream{stream: stream})
}

// uploadStream is the server's side of an Upload stream: what
// [Server.upload] needs of a *connect.BidiStream, so that tests and fuzz
// targets can drive it in process.
//
// The bytes of a received message's operations may be valid only until the
// next call to Receive ([connectUploadStream] decodes every message into
// one reused buffer): apply them, or copy what must outlive the message,
// before receiving the next.
type uploadStream interface {
	Receive() (*dirsyncv1.UploadRequest, error)
	Send(*dirsyncv1.UploadResponse) error
}

// upload serves one Upload stream, within the tenant's cap on concurrent
// streams.
func (s *Server) upload(ctx context.Context, stream uploadStream) error {
	if err := s.streams.acquire(); err != nil {
		return err
	}
	defer s.streams.release()
	c := s.newCommitter(stream.Send)
	dirs := s.newDirCache()
	err := s.receiveUploads(ctx, stream, c, dirs)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	dirs.close()
	return err
}

// receiveUploads reads the stream's messages, builds each file and hands it
// to c once its finish arrives. A message's own file part comes first,
// then its packed files, in order.
func (s *Server) receiveUploads(ctx context.Context, stream uploadStream, c *committer, dirs *dirCache) error {
	var cur *fileUpload
	defer func() {
		if cur != nil {
			// The stream ended in the middle of a file: keep what it
			// built for a retry to resume.
			cur.suspend()
		}
	}()
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			if cur != nil {
				return s.connectError("upload", "", invalidf("upload of %q: stream ended before the file's finish", cur.rel))
			}
			return nil
		}
		if err != nil {
			return err
		}
		s.stats.bytesReceived.Add(int64(proto.Size(req)))

		switch {
		case req.GetHeader() != nil && cur != nil:
			return s.connectError("upload", "", invalidf("upload of %q: header of the next file before the file's finish", cur.rel))
		case req.GetHeader() != nil:
			cur = s.beginUpload(ctx, req.GetHeader(), dirs)
		case cur == nil && !packedOnly(req):
			return s.connectError("upload", "", invalidf("upload message without a header outside a file"))
		}
		if cur != nil {
			cur.apply(req.GetOps())
			if req.GetFinish() {
				cur.verify(req.GetSha256())
				c.add(cur)
				cur = nil
			}
		}
		if files := req.GetFiles(); len(files) > 0 {
			if cur != nil {
				return s.connectError("upload", "", invalidf("upload of %q: packed files before the file's finish", cur.rel))
			}
			for _, f := range files {
				if f.GetHeader() == nil {
					return s.connectError("upload", "", invalidf("packed upload file without a header"))
				}
				u := s.beginUpload(ctx, f.GetHeader(), dirs)
				u.apply(f.GetOps())
				u.verify(f.GetSha256())
				c.add(u)
			}
		}
	}
}

// packedOnly reports whether req carries packed files and nothing of a
// file of its own: the only message without a header allowed outside a
// file.
func packedOnly(req *dirsyncv1.UploadRequest) bool {
	return len(req.GetFiles()) > 0 && len(req.GetOps()) == 0 && !req.GetFinish() && len(req.GetSha256()) == 0
}
