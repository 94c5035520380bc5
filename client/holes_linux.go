package client

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// eachExtent calls fn with the extents of f from off to size, in order.
// A file that has no hole (its allocated blocks cover its size) is one
// data extent, without a further system call; otherwise SEEK_DATA and
// SEEK_HOLE find where its holes lie. Where they fail, the rest is data.
func eachExtent(f *os.File, off, size int64, fn extentFunc) error {
	if off >= size {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		return fn(off, size-off, false)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Blocks*512 >= size {
		return fn(off, size-off, false)
	}
	fd := int(f.Fd())
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			data = size // a hole up to the end
		case err != nil:
			return fn(off, size-off, false)
		}
		data = min(data, size)
		if data > off {
			if err := fn(off, data-off, true); err != nil {
				return err
			}
		}
		if data == size {
			return nil
		}
		end, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			end = size
		}
		end = min(max(end, data+1), size)
		if err := fn(data, end-data, false); err != nil {
			return err
		}
		off = end
	}
	return nil
}
