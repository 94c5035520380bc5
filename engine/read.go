package engine

import "io"

// readFull reads from r until p is full or r reports io.EOF. It returns
// the bytes read and whether EOF was reached. Unlike [io.ReadFull] it
// keeps a reader's own io.ErrUnexpectedEOF distinct from a short file.
// A reader that returns no data and no error many times in a row is
// reported as [io.ErrNoProgress].
func readFull(r io.Reader, p []byte) (n int, eof bool, err error) {
	empty := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		case m == 0:
			if empty++; empty >= 100 {
				return n, false, io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return n, false, nil
}
