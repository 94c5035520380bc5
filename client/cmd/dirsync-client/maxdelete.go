package main

import (
	"fmt"
	"strconv"

	"github.com/dirsync/dirsync/client"
)

// maxDelete is the -max-delete flag: "auto", or a number of entries as
// rsync's --max-delete takes it (0 deletes nothing), or -1 for no limit.
// Its value is client.Options.MaxDelete.
type maxDelete int

// String returns the flag's value as the command line spells it.
func (m *maxDelete) String() string {
	switch int(*m) {
	case client.MaxDeleteAuto:
		return "auto"
	case client.MaxDeleteNone:
		return "0"
	}
	return strconv.Itoa(int(*m))
}

// Set parses "auto", a count of entries, 0 or -1.
func (m *maxDelete) Set(v string) error {
	if v == "auto" {
		*m = client.MaxDeleteAuto
		return nil
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < -1:
		return fmt.Errorf("want auto, a number of entries, 0 (delete nothing) or -1 (no limit)")
	case n == 0:
		*m = client.MaxDeleteNone
	case n == -1:
		*m = client.MaxDeleteUnlimited
	default:
		*m = maxDelete(n)
	}
	return nil
}
