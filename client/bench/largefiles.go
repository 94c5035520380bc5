package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
)

// newChaCha returns a fast deterministic byte source for seed.
func newChaCha(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "dirsync-bench-random")
	return rand.NewChaCha8(key)
}

// writeRandomFile creates path holding size incompressible bytes drawn from
// seed.
func writeRandomFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create random file: %w", err)
	}
	if _, err := io.CopyN(f, newChaCha(seed), size); err != nil {
		f.Close()
		return fmt.Errorf("write random file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close random file %s: %w", path, err)
	}
	return nil
}

// copyFile copies the regular file src to dst, which is created.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open copy source: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("create copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close copy %s: %w", dst, err)
	}
	return nil
}

// overwriteRandom writes dst as a copy of src with count random runs of
// length bytes overwritten at random offsets, all drawn from seed.
func overwriteRandom(src, dst string, count, length int, seed uint64) error {
	if err := copyFile(src, dst); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open file to overwrite: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat file to overwrite: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 0x6f766572))
	bytes := newChaCha(seed ^ 0x6f76)
	buf := make([]byte, length)
	for range count {
		off := r.Int64N(fi.Size() - int64(length))
		_, _ = bytes.Read(buf) // ChaCha8.Read never fails
		if _, err := f.WriteAt(buf, off); err != nil {
			f.Close()
			return fmt.Errorf("overwrite at %d: %w", off, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close overwritten file: %w", err)
	}
	return nil
}

// insertRandom writes dst as src with length random bytes inserted at count
// random offsets, all drawn from seed.
func insertRandom(src, dst string, count, length int, seed uint64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open insert source: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("stat insert source: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 0x696e7365))
	offsets := make([]int64, count)
	for i := range offsets {
		offsets[i] = r.Int64N(fi.Size() + 1)
	}
	slices.Sort(offsets)
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("create insert target: %w", err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	bytes := newChaCha(seed ^ 0x696e)
	buf := make([]byte, length)
	var pos int64
	for _, off := range offsets {
		if _, err := io.CopyN(w, in, off-pos); err != nil {
			out.Close()
			return fmt.Errorf("copy up to insertion at %d: %w", off, err)
		}
		pos = off
		_, _ = bytes.Read(buf) // ChaCha8.Read never fails
		if _, err := w.Write(buf); err != nil {
			out.Close()
			return fmt.Errorf("insert at %d: %w", off, err)
		}
	}
	if _, err := io.Copy(w, in); err != nil {
		out.Close()
		return fmt.Errorf("copy tail after insertions: %w", err)
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("flush insert target: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close insert target: %w", err)
	}
	return nil
}
