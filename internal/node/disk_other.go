//go:build !unix

package node

import "errors"

// diskSpace is not measured on this platform.
func diskSpace(string) (free, size uint64, err error) {
	return 0, 0, errors.New("free space is not measured on this platform")
}
