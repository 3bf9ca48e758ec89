package reqctx

import "syscall"

// canLowat says setLowat works: Linux reports a TCP socket readable to
// epoll only once the mark is queued.
const canLowat = true

func setLowat(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}
