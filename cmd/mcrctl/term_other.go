//go:build !linux

package main

import (
	"bufio"
	"io"
	"strings"
)

// readPassword reads a line from buffered. On this system the terminal
// keeps echoing: use --password-stdin.
func readPassword(_ io.Reader, buffered *bufio.Reader) (string, error) {
	line, err := buffered.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
