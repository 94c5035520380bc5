package engine

import (
	"errors"
	"fmt"
)

// Sentinel errors of the delta half. Functions wrap them with context, so
// compare with [errors.Is].
var (
	// ErrInvalidSignature means a [Signature] or [Layout] is malformed: a
	// block size out of range, a negative file size, or checksum slices
	// whose lengths disagree with the file size.
	ErrInvalidSignature = errors.New("invalid signature")

	// ErrInvalidOp means an [Op] is malformed: an unknown kind, a copy of
	// fewer than one block, an empty literal, or fields that do not belong
	// to its kind. It also reports use of a [Patcher] after Finish.
	ErrInvalidOp = errors.New("invalid op")

	// ErrBlockOutOfRange means a copy [Op] names blocks outside the base.
	ErrBlockOutOfRange = errors.New("block out of range")

	// ErrLiteralTooLarge means a literal [Op] carries more than
	// [MaxLiteralSize] bytes.
	ErrLiteralTooLarge = errors.New("literal too large")

	// ErrChecksumMismatch means a patched file does not have the SHA-256
	// its sender declared. The concrete error is a *[ChecksumMismatchError].
	ErrChecksumMismatch = errors.New("checksum mismatch")
)

// ChecksumMismatchError reports the SHA-256 a patched file should have had
// and the one it has. It matches [ErrChecksumMismatch] under [errors.Is].
type ChecksumMismatchError struct {
	Want [32]byte // SHA-256 declared by the sender
	Got  [32]byte // SHA-256 of the bytes actually written
}

// Error implements the error interface.
func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("checksum mismatch: want sha256 %x, got %x", e.Want, e.Got)
}

// Is reports whether target is [ErrChecksumMismatch].
func (e *ChecksumMismatchError) Is(target error) bool {
	return target == ErrChecksumMismatch
}
