package engine

import (
	"fmt"
	"unicode/utf8"
)

// WirePath splits p, a path or a symlink target, into the two forms it
// can travel in on the wire: text, when p is valid UTF-8, which is all a
// protobuf string may hold, or raw bytes otherwise. Exactly one of the
// results is non-empty for a non-empty p. Names that are valid UTF-8, the
// usual case, so stay readable in tools such as grpcurl.
func WirePath(p string) (text string, raw []byte) {
	if utf8.ValidString(p) {
		return p, nil
	}
	return "", []byte(p)
}

// PathFromWire joins the two wire forms of a path or symlink target, as
// [WirePath] made them: text, or raw when text is empty. Both set is an
// error wrapping [ErrInvalidPath], naming field, the field of text. It
// does not validate the path (see [ValidatePath]); raw may hold any
// bytes, UTF-8 or not.
func PathFromWire(field, text string, raw []byte) (string, error) {
	switch {
	case len(raw) == 0:
		return text, nil
	case text != "":
		return "", fmt.Errorf("%w: both %s %s and raw_%s set", ErrInvalidPath, field, quotePath(text), field)
	}
	return string(raw), nil
}
