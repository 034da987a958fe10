package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// client is the load generator's raw HTTP/1.1 client: one keep-alive connection, one request
// at a time, the minimum parsing (status, Content-Length or chunked, Connection).
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(addr string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &client{c: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

func (c *client) close() { _ = c.c.Close() }

// roundTrip writes req and reads the whole response; keep reports whether the connection can
// be reused.
func (c *client) roundTrip(req []byte) (status int, keep bool, err error) {
	_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err = c.c.Write(req); err != nil {
		return 0, false, err
	}
	status, contentLength, chunked, keep, err := c.readHeader()
	if err != nil {
		return 0, false, err
	}
	switch {
	case chunked:
		err = c.discardChunked()
	case contentLength >= 0:
		_, err = c.r.Discard(contentLength)
	default:
		_, err = io.Copy(io.Discard, c.r)
		keep = false
	}
	return status, keep, err
}

func (c *client) readHeader() (status, contentLength int, chunked, keep bool, err error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		err = fmt.Errorf("bad status line %q", line)
		return
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return
	}
	contentLength, keep = -1, true
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return
		}
		if len(line) <= 2 {
			return
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			contentLength, err = strconv.Atoi(string(value))
			if err != nil {
				return
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
}

func asciiEqualFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

func (c *client) discardChunked() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeHex, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		size, err := strconv.ParseInt(string(sizeHex), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailers until the empty line
				line, err = c.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		if _, err := c.r.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}
