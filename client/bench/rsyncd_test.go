package main

import "testing"

// rsync 3.2 --stats output, abridged.
const statsOutput = `
Number of files: 20,101 (reg: 19,081, dir: 1,001, link: 19)
Number of created files: 20,100 (reg: 19,081, dir: 1,000, link: 19)
Total file size: 278,528,000 bytes
Total transferred file size: 278,528,000 bytes
Literal data: 278,528,000 bytes
Matched data: 0 bytes
File list size: 655,347
Total bytes sent: 279,384,211
Total bytes received: 381,214

sent 279,384,211 bytes  received 381,214 bytes  55,953,085.00 bytes/sec
total size is 278,528,000  speedup is 1.00
`

func TestParseRsyncStats(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    rsyncStats
		wantErr bool
	}{
		{"commas", statsOutput, rsyncStats{Sent: 279384211, Received: 381214}, false},
		{"plain", "Total bytes sent: 1234\nTotal bytes received: 56\n", rsyncStats{Sent: 1234, Received: 56}, false},
		{"dots", "Total bytes sent: 1.234.567\nTotal bytes received: 0\n", rsyncStats{Sent: 1234567}, false},
		{"missing received", "Total bytes sent: 12\n", rsyncStats{}, true},
		{"empty", "", rsyncStats{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRsyncStats(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseRsyncStats() error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("parseRsyncStats() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
