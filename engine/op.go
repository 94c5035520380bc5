package engine

import "fmt"

// OpKind says what an [Op] does.
type OpKind uint8

// The kinds of [Op]. Zero is deliberately not a kind, so a zero Op is
// invalid.
const (
	// OpCopy copies Count consecutive base blocks starting at Block.
	OpCopy OpKind = 1
	// OpLiteral inserts the bytes in Data.
	OpLiteral OpKind = 2
	// OpZeros inserts Count zero bytes: a hole of a sparse file, which a
	// sender names instead of sending its zeros.
	OpZeros OpKind = 3
)

// String returns the kind's name, for messages and tests.
func (k OpKind) String() string {
	switch k {
	case OpCopy:
		return "copy"
	case OpLiteral:
		return "literal"
	case OpZeros:
		return "zeros"
	default:
		return fmt.Sprintf("OpKind(%d)", uint8(k))
	}
}

// Op is one step that rebuilds a target from its base: a run of base
// blocks to copy, literal bytes to insert, or a run of zero bytes. Ops from a peer are
// validated by [Patcher.Apply]; see it for the rules.
type Op struct {
	// Kind is OpCopy, OpLiteral or OpZeros.
	Kind OpKind

	// Block is, for OpCopy, the index of the first base block to copy.
	// It is 0 for OpLiteral.
	Block int64

	// Count is, for OpCopy, the number of consecutive base blocks to
	// copy, at least 1; for OpZeros, the number of zero bytes, at least
	// 1. It is 0 for OpLiteral.
	Count int64

	// Data is, for OpLiteral, the 1 to MaxLiteralSize bytes to insert.
	// It is empty for OpCopy. An Op that [Delta] emits shares Data with
	// Delta's buffers: it is valid only during the emit callback, so copy
	// it to keep it.
	Data []byte
}

// String describes the op briefly, without its literal bytes.
func (o Op) String() string {
	switch o.Kind {
	case OpCopy:
		return fmt.Sprintf("copy(block %d, count %d)", o.Block, o.Count)
	case OpLiteral:
		return fmt.Sprintf("literal(%d bytes)", len(o.Data))
	case OpZeros:
		return fmt.Sprintf("zeros(%d bytes)", o.Count)
	default:
		return fmt.Sprintf("op(%v)", o.Kind)
	}
}
