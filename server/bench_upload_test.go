package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// BenchmarkUploadSmallFiles receives 1,000 new files of 4 KiB in 50
// directories, packed 32 to a message as the client sends small files,
// through the in-process upload path (no network): the server's own cost
// per file of an initial sync. Each iteration writes into a fresh tree
// under one server root; b.N trees pile up until the end.
func BenchmarkUploadSmallFiles(b *testing.B) {
	const (
		dirs, perDir, size, perMsg = 50, 20, 4 << 10, 32
	)
	root := b.TempDir()
	srv, err := New(root, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	mtime := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		top := fmt.Sprintf("t%d", i)
		var reqs []*dirsyncv1.UploadRequest
		var cur *dirsyncv1.UploadRequest
		for d := range dirs {
			dir := filepath.Join(root, top, fmt.Sprintf("d%02d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range perDir {
				if cur == nil || len(cur.Files) == perMsg {
					cur = &dirsyncv1.UploadRequest{}
					reqs = append(reqs, cur)
				}
				e := fileEntry(fmt.Sprintf("%s/d%02d/f%03d.go", top, d, f), data, 0o644, mtime)
				cur.Files = append(cur.Files, &dirsyncv1.UploadFile{
					Header: &dirsyncv1.UploadHeader{Entry: e},
					Ops:    []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: data}}},
					Sha256: sum[:],
				})
			}
		}
		stream := &fakeUploadStream{reqs: reqs}
		b.StartTimer()
		if err := srv.upload(context.Background(), stream); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, r := range stream.resps {
			if r.GetCode() != 0 {
				b.Fatalf("upload %q: %s", r.GetPath(), r.GetMessage())
			}
		}
		if len(stream.resps) != dirs*perDir {
			b.Fatalf("%d answers, want %d", len(stream.resps), dirs*perDir)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*dirs*perDir), "ns/file")
}
