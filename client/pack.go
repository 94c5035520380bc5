package client

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// Sizes the packer keeps each UploadRequest under, with room for the
// header beside the full literal ops. Compressed with zstd, a message
// fills one zstd window (engine.ZstdWindow). Messages of 1 MiB keep the
// memory a stream holds on both sides small: with 2 MiB compressed
// messages, the server's buffers for decompressed messages held 15 MiB
// of heap on four streams. A large file's compressed literals are 2 MiB
// frames whatever the message size; a message holds at least one.
const (
	maxMessageBytes           = 1<<20 + 4<<10
	maxCompressedMessageBytes = engine.ZstdWindow + 16<<10
)

// maxPackedMessageBytes bounds an uncompressed message of packed small
// files (see [upStream.pack]), which may hold one file of the largest
// packable size. Each stream holds a few packs at a time on both sides,
// in Connect's buffers, the packing arena and the decoded messages: an
// initial sync of 20,000 small files peaked at 49 MiB RSS on the client
// and 71 MiB on the server with packs of 1 MiB, and at 34 and 56 MiB with
// packs of 256 KiB, with 17% and 24% fewer page faults, for the same CPU
// time (medians of 7 interleaved runs). On virtual machines whose host
// takes back the guest's free memory, a page's first touch is not cheap.
const maxPackedMessageBytes = 256<<10 + 4<<10

// messageBytes returns the message size for the codec compression.
func messageBytes(compression string) int {
	if compression == engine.CompressionZstd {
		return maxCompressedMessageBytes
	}
	return maxMessageBytes
}

// packedMessageBytes returns the size of a message of packed small files
// for the codec compression. Compressed packs keep the larger bound of
// messageBytes: the codec compresses each message on its own, and finds
// more to share in a larger one.
func packedMessageBytes(compression string) int {
	if compression == engine.CompressionNone {
		return maxPackedMessageBytes
	}
	return messageBytes(compression)
}

// maxMessageOutput is how many bytes of the file one message's ops may
// produce on the server before the message goes out, however few bytes it
// has: a delta of a big, mostly unchanged file then keeps the server
// patching while the client reads on, instead of handing it all its copy
// runs at the end.
const maxMessageOutput = engine.MaxRunBytes

// opOverhead over-estimates the protobuf framing of one DeltaOp: tags,
// lengths and a BlockRun's varints.
const opOverhead = 32

// packer packs the operations of one file into UploadRequest messages of at
// most about max bytes: the first carries the header, the last has finish
// set, and a file whose operations fit in one message is exactly one
// message, which goes to whole instead of send when whole is set. It
// copies literal data, so ops whose Data aliases a reused buffer (as
// [engine.Delta] emits them) are safe to add. It is not safe for
// concurrent use.
type packer struct {
	send func(*dirsyncv1.UploadRequest) error
	// whole, if set, takes a file that fits in one message, with the
	// message's estimated size, instead of send; see [upStream.pack].
	whole func(msg *dirsyncv1.UploadRequest, size int) error
	max   int
	msg   *dirsyncv1.UploadRequest
	size  int
	// blockSize is the base's block size, for a delta; output counts
	// the bytes the current message's ops produce on the server.
	blockSize int64
	output    int64
	sent      bool   // a message of the file went to send already
	sum       []byte // see finishSum
	// pooled are the buffers from literalCopies that the current
	// message's literals are in.
	pooled []*[engine.MaxLiteralSize]byte
}

// newPacker returns a packer that starts a file described by header and
// hands each full message to send.
func newPacker(header *dirsyncv1.UploadHeader, max int, send func(*dirsyncv1.UploadRequest) error) *packer {
	return &packer{
		send: send,
		max:  max,
		msg:  &dirsyncv1.UploadRequest{Header: header},
		size: proto.Size(header) + opOverhead,
	}
}

// add appends op, sending the current message first if op would make it
// too large.
func (p *packer) add(op engine.Op) error {
	cost := opOverhead
	switch op.Kind {
	case engine.OpCopy:
	case engine.OpLiteral:
		cost += len(op.Data)
	case engine.OpZeros:
	default:
		return fmt.Errorf("pack op: unknown kind %v", op.Kind)
	}
	// Room first, then the op: a literal's copy may come from
	// literalCopies, and flush hands back the buffers of the message it
	// sends.
	if err := p.makeRoom(cost); err != nil {
		return err
	}
	switch op.Kind {
	case engine.OpCopy:
		p.push(&dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Copy{Copy: &dirsyncv1.BlockRun{
			Start: uint64(op.Block), Count: uint64(op.Count),
		}}}, cost)
		p.output += op.Count * p.blockSize
	case engine.OpZeros:
		p.push(&dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Zeros{Zeros: uint64(op.Count)}}, cost)
		p.output += op.Count
	default:
		p.push(&dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Literal{Literal: p.copyLiteral(op.Data)}}, cost)
	}
	if p.output >= maxMessageOutput {
		// Mostly block copies: small on the wire, but a lot of work for
		// the server, which can start on it now.
		return p.flush()
	}
	return nil
}

// addZstd appends a literal compressed as one zstd frame, standing for
// size bytes; the packer keeps frame, which the caller must not change.
func (p *packer) addZstd(frame []byte, size int) error {
	pop := &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_ZstdLiteral{ZstdLiteral: &dirsyncv1.ZstdLiteral{
		Frame: frame, Size: uint32(size),
	}}}
	return p.append(pop, opOverhead+len(frame))
}

// append adds pop, of about cost bytes, sending the current message first
// if pop would make it too large.
func (p *packer) append(pop *dirsyncv1.DeltaOp, cost int) error {
	if err := p.makeRoom(cost); err != nil {
		return err
	}
	p.push(pop, cost)
	return nil
}

// push adds pop, of about cost bytes, to the current message.
func (p *packer) push(pop *dirsyncv1.DeltaOp, cost int) {
	p.msg.Ops = append(p.msg.Ops, pop)
	p.size += cost
}

// makeRoom sends the current message first if an op of about cost bytes
// would make it too large.
func (p *packer) makeRoom(cost int) error {
	if len(p.msg.Ops) > 0 && p.size+cost > p.max {
		return p.flush()
	}
	return nil
}

// finishSum makes the last message carry sum, the SHA-256 of the whole
// file, for a file whose header had none.
func (p *packer) finishSum(sum []byte) {
	p.sum = sum
}

// finish sends the last message, with finish set.
func (p *packer) finish() error {
	p.msg.Sha256 = p.sum
	p.msg.Finish = true
	if p.whole != nil && !p.sent {
		msg := p.msg
		// The message waits with the packed files: its literals stay
		// its own, and the collector takes them once it is sent.
		p.msg, p.pooled = nil, nil
		if err := p.whole(msg, p.size+len(p.sum)+opOverhead); err != nil {
			return fmt.Errorf("send upload message: %w", err)
		}
		return nil
	}
	return p.flush()
}

// flush sends the current message and starts an empty one. The pooled
// copies of the message's literals go back to their pool once it is sent:
// Connect has marshalled it by then, and nothing else refers to them.
func (p *packer) flush() error {
	msg := p.msg
	p.msg, p.size, p.output, p.sent = &dirsyncv1.UploadRequest{}, 0, 0, true
	err := p.send(msg)
	for _, b := range p.pooled {
		literalCopies.Put(b)
	}
	clear(p.pooled)
	p.pooled = p.pooled[:0]
	if err != nil {
		return fmt.Errorf("send upload message: %w", err)
	}
	return nil
}

// pooledLiteralMin is the smallest literal whose copy comes from
// literalCopies: the full-sized literals of a large file's new content.
// Smaller ones, as a delta's scattered edits make, are allocated as they
// are, so that a message of many small literals does not hold many
// buffers of engine.MaxLiteralSize.
const pooledLiteralMin = 64 << 10

// literalCopies holds buffers of engine.MaxLiteralSize for the copies of
// large literals. Without it, sending a 1 GiB file allocated 1 GiB that
// the collector then chased: at the client's GOGC of 50, 556 collections
// for one file (GODEBUG=gctrace=1), and page faults and madvise calls
// with them; 4 with the pool.
var literalCopies = sync.Pool{New: func() any { return new([engine.MaxLiteralSize]byte) }}

// copyLiteral returns a copy of data that the packer may keep until the
// message it goes into is sent.
func (p *packer) copyLiteral(data []byte) []byte {
	if len(data) < pooledLiteralMin || len(data) > engine.MaxLiteralSize {
		return append([]byte(nil), data...)
	}
	b := literalCopies.Get().(*[engine.MaxLiteralSize]byte)
	p.pooled = append(p.pooled, b)
	return append(b[:0:len(data)], data...)
}
