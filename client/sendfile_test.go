package client

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/engine"
)

// readSource is a fileSource whose sameAs gives a fixed answer.
type readSource struct {
	*bytes.Reader
	same error
}

func (r readSource) sameAs(engine.Entry) error { return r.same }

// TestCheckReadWithdrawsChangedRead checks that a file that changed while
// it was read is never sent with the SHA-256 of what was read, which the
// server would accept: what was read may be torn, a mix of two versions.
func TestCheckReadWithdrawsChangedRead(t *testing.T) {
	read := []byte("what was read")
	readSum := sha256.Sum256(read)
	changed := fmt.Errorf("%q: %w", "f", errChanged)
	tests := []struct {
		name    string
		hashed  bool // the scan hashed the file (as read)
		short   bool
		readErr error
		same    error
		// wantSum: the finish carries the sum of what was read; else,
		// for a file not hashed beforehand, a sum that cannot match.
		wantSum bool
		wantErr bool
	}{
		{name: "unchanged", wantSum: true},
		{name: "changed during the read", same: changed, wantErr: true},
		{name: "short read", short: true, wantErr: true},
		{name: "read error", readErr: errors.New("EIO"), wantErr: true},
		{name: "hashed, unchanged", hashed: true},
		{name: "hashed, changed", hashed: true, same: changed, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{hashes: newHashCache()}
			s := &upStream{u: &uploader{c: c}}
			job := &uploadJob{local: engine.Entry{Path: "f", Type: engine.TypeFile, Size: int64(len(read)), MtimeNs: 1}}
			if tt.hashed {
				job.local.SHA256, job.local.HasSHA256 = readSum, true
			}
			fl := &inflight{job: job}
			h := sha256.New()
			h.Write(read)
			sum := s.checkRead(fl, job, readSource{bytes.NewReader(read), tt.same}, h, tt.short, tt.readErr)
			switch {
			case tt.hashed && sum != nil:
				t.Errorf("finish sum %x for a file hashed beforehand, want none", sum)
			case !tt.hashed && tt.wantSum && !bytes.Equal(sum, readSum[:]):
				t.Errorf("finish sum %x, want the sum of what was read", sum)
			case !tt.hashed && !tt.wantSum && (len(sum) != sha256.Size || bytes.Equal(sum, readSum[:])):
				t.Errorf("finish sum %x: the server would accept what was read", sum)
			}
			if (fl.localErr != nil) != tt.wantErr {
				t.Errorf("local error %v, want one: %v", fl.localErr, tt.wantErr)
			}
			_, cached := c.hashes.get("f", job.local.Size, job.local.MtimeNs)
			if want := !tt.hashed && !tt.wantErr; cached != want {
				t.Errorf("hash cached %v, want %v", cached, want)
			}
		})
	}
}
