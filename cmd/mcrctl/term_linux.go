package main

import (
	"bufio"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readPassword reads a line from buffered, which reads raw; when raw is a
// terminal its echo is off meanwhile.
func readPassword(raw io.Reader, buffered *bufio.Reader) (string, error) {
	if f, ok := raw.(*os.File); ok {
		fd := int(f.Fd())
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			quiet := *t
			quiet.Lflag &^= unix.ECHO
			quiet.Lflag |= unix.ICANON | unix.ISIG
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err == nil {
				defer func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, t) }()
			}
		}
	}
	return readLine(buffered)
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
