// Command smux-peer is the Go side of the ssm-mux interop tests. It links
// github.com/xtaci/smux (v1.5.16 from Debian's golang-github-xtaci-smux-dev),
// the library both ends of Session Manager port forwarding use.
//
// Per-stream exchange (works with smux v1.5 full-close semantics):
//
//  1. the opener sends an 8-byte little-endian length M, then M bytes;
//  2. the acceptor echoes exactly M bytes back as they arrive, then closes
//     the stream (FIN);
//  3. the opener reads the M echoed bytes, then expects EOF, compares, and
//     closes its end.
//
// Usage:
//
//	smux-peer server [-streams N]
//	    listen on 127.0.0.1:0, print the port, serve one connection as the
//	    smux server (acceptor), exit when the connection closes; exit status
//	    1 if N > 0 and not exactly N streams were echoed.
//	smux-peer client -port P [-streams N] [-bytes M]
//	    connect to 127.0.0.1:P as the smux client (opener), run N streams of
//	    M bytes concurrently; exit status 1 on any mismatch.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/xtaci/smux"
)

const deadline = 120 * time.Second

func main() {
	if len(os.Args) < 2 {
		fail("usage: smux-peer server|client [flags]")
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	streams := flags.Int("streams", 8, "number of streams")
	size := flags.Int("bytes", 200000, "payload bytes per stream (client)")
	port := flags.Int("port", 0, "server port to connect to (client)")
	if err := flags.Parse(os.Args[2:]); err != nil {
		fail(err.Error())
	}
	time.AfterFunc(deadline, func() { fail("deadline exceeded") })
	switch os.Args[1] {
	case "server":
		runServer(*streams)
	case "client":
		runClient(*port, *streams, *size)
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func config() *smux.Config {
	cfg := smux.DefaultConfig()
	cfg.KeepAliveDisabled = true
	return cfg
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "smux-peer:", msg)
	os.Exit(1)
}

// streamLog collects what happened on each stream for the summary line.
type streamLog struct {
	mu    sync.Mutex
	ids   []int
	bytes int
	errs  []string
}

func (l *streamLog) ok(id uint32, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, int(id))
	l.bytes += n
}

func (l *streamLog) fail(id uint32, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf("stream %d: %v", id, err))
}

func (l *streamLog) summary(role string) string {
	sort.Ints(l.ids)
	return fmt.Sprintf("go %s: %d streams OK, %d bytes echoed, stream ids %v, errors %d",
		role, len(l.ids), l.bytes, l.ids, len(l.errs))
}

func runServer(expected int) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	conn, err := listener.Accept()
	if err != nil {
		fail(err.Error())
	}
	listener.Close()
	session, err := smux.Server(conn, config())
	if err != nil {
		fail(err.Error())
	}
	var log streamLog
	var wg sync.WaitGroup
	for {
		stream, err := session.AcceptStream()
		if err != nil {
			break // the peer closed the connection
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := echo(stream)
			if err != nil {
				log.fail(stream.ID(), err)
				return
			}
			log.ok(stream.ID(), n)
		}()
	}
	wg.Wait()
	fmt.Println(log.summary("server"))
	for _, e := range log.errs {
		fmt.Fprintln(os.Stderr, e)
	}
	if len(log.errs) > 0 || (expected > 0 && len(log.ids) != expected) {
		os.Exit(1)
	}
}

// echo reads the length prefix, sends exactly that many bytes back, then
// closes the stream so that the opener sees EOF.
func echo(stream *smux.Stream) (int, error) {
	defer stream.Close()
	var prefix [8]byte
	if _, err := io.ReadFull(stream, prefix[:]); err != nil {
		return 0, err
	}
	size := binary.LittleEndian.Uint64(prefix[:])
	n, err := io.CopyN(stream, stream, int64(size))
	return int(n), err
}

func runClient(port, streams, size int) {
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fail(err.Error())
	}
	session, err := smux.Client(conn, config())
	if err != nil {
		fail(err.Error())
	}
	var log streamLog
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		stream, err := session.OpenStream()
		if err != nil {
			fail(err.Error())
		}
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			if err := exchange(stream, payload(seed, size)); err != nil {
				log.fail(stream.ID(), err)
				return
			}
			log.ok(stream.ID(), size)
		}(uint64(i) + 1)
	}
	wg.Wait()
	session.Close()
	fmt.Println(log.summary("client"))
	for _, e := range log.errs {
		fmt.Fprintln(os.Stderr, e)
	}
	if len(log.errs) > 0 || len(log.ids) != streams {
		os.Exit(1)
	}
}

// exchange sends the prefixed payload while reading the echo, then checks
// the echo and the acceptor's FIN.
func exchange(stream *smux.Stream, data []byte) error {
	defer stream.Close()
	writeErr := make(chan error, 1)
	go func() {
		var prefix [8]byte
		binary.LittleEndian.PutUint64(prefix[:], uint64(len(data)))
		if _, err := stream.Write(prefix[:]); err != nil {
			writeErr <- err
			return
		}
		for rest := data; len(rest) > 0; {
			chunk := rest
			if len(chunk) > 16384 {
				chunk = chunk[:16384]
			}
			if _, err := stream.Write(chunk); err != nil {
				writeErr <- err
				return
			}
			rest = rest[len(chunk):]
		}
		writeErr <- nil
	}()
	echoed := make([]byte, len(data))
	if _, err := io.ReadFull(stream, echoed); err != nil {
		return fmt.Errorf("reading echo: %w", err)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	for i := range data {
		if echoed[i] != data[i] {
			return fmt.Errorf("echo differs at byte %d", i)
		}
	}
	var extra [1]byte
	if n, err := stream.Read(extra[:]); n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("expected EOF after echo, got %d bytes, %v", n, err)
	}
	return nil
}

// payload is a deterministic xorshift byte sequence.
func payload(seed uint64, size int) []byte {
	state := seed*0x9E3779B97F4A7C15 | 1
	data := make([]byte, size)
	for i := range data {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		data[i] = byte(state >> 24)
	}
	return data
}
