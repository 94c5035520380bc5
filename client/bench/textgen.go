package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// vocabulary is the fixed word list that text-like content is drawn from:
// source-code tokens first, then pseudo-words. Lower indices are drawn more
// often, so the text compresses roughly like source code does.
var vocabulary = buildVocabulary()

func buildVocabulary() []string {
	words := []string{
		"func", "return", "if", "err", "!=", "nil", "{", "}", "(", ")", ":=", "=",
		"for", "range", "var", "const", "type", "struct", "string", "int",
		"package", "import", "else", "ctx", "//", "&&", "||", "==", "true", "false",
	}
	r := rand.New(rand.NewPCG(0x766f6361, 0x62756c61))
	for len(words) < 600 {
		b := make([]byte, 2+r.IntN(9))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		words = append(words, string(b))
	}
	return words
}

// writeText writes exactly n bytes of source-code-like text drawn from r:
// indented lines of 20 to 80 characters made of vocabulary words.
func writeText(w io.Writer, r *rand.Rand, n int64) error {
	buf := make([]byte, 0, 64<<10)
	var written int64
	line := 0
	for written < n {
		buf = buf[:0]
		for len(buf) < cap(buf)-128 && written+int64(len(buf)) < n {
			if line == 0 {
				for range r.IntN(4) {
					buf = append(buf, '\t')
				}
			}
			word := vocabulary[r.IntN(1+r.IntN(len(vocabulary)))]
			buf = append(buf, word...)
			line += len(word) + 1
			if line > 20+r.IntN(60) {
				buf = append(buf, '\n')
				line = 0
			} else {
				buf = append(buf, ' ')
			}
		}
		if rem := n - written; int64(len(buf)) > rem {
			buf = buf[:rem]
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		written += int64(len(buf))
	}
	return nil
}

// textBytes returns n bytes of text-like content drawn from r.
func textBytes(r *rand.Rand, n int64) []byte {
	b := &sliceWriter{buf: make([]byte, 0, n)}
	_ = writeText(b, r, n) // a sliceWriter never fails
	return b.buf
}

// sliceWriter is an io.Writer appending to a byte slice.
type sliceWriter struct{ buf []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// writeTextFile creates path holding size bytes of text-like content drawn
// from seed.
func writeTextFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create text file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 0x74657874))
	if err := writeText(w, r, size); err != nil {
		f.Close()
		return fmt.Errorf("write text file %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write text file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close text file %s: %w", path, err)
	}
	return nil
}
