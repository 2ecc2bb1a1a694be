package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"mapgate/bench"
	"mapgate/socketmap"
)

// streamsResult is one run of several `postmap -q -` processes at once.
type streamsResult struct {
	Table   string       `json:"table"`
	Streams int          `json:"streams"`
	Keys    int          `json:"keys_per_stream"`
	Seconds float64      `json:"seconds"`
	PerSec  float64      `json:"lookups_per_s"`
	Counts  bench.Counts `json:"counts"`
	Stderr  string       `json:"stderr,omitempty"`
}

// postmapStreams runs streams copies of cmd (a postmap -q - command built
// by mk) at once, each reading every key of keysFile, and checks what each
// prints against the data set: postmap prints "key<TAB>value" for each key
// found and nothing for a key not found, and stops at a fatal error, after
// which the keys it did not answer count as errors.
func postmapStreams(ctx context.Context, table string, mk func(ctx context.Context) *exec.Cmd, keysFile string, keys []bench.Key, streams int, data bench.BulkAliases) (*streamsResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	type out struct {
		stdout, stderr bytes.Buffer
		err            error
	}
	outs := make([]*out, streams)
	cmds := make([]*exec.Cmd, streams)
	for i := range cmds {
		f, err := os.Open(keysFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		o := &out{}
		c := mk(ctx)
		c.Stdin, c.Stdout, c.Stderr = f, &o.stdout, &o.stderr
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		c.WaitDelay = 5 * time.Second
		outs[i], cmds[i] = o, c
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			cancel()
			wg.Wait()
			return nil, fmt.Errorf("%s: %w", strings.Join(c.Args, " "), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i].err = c.Wait()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := &streamsResult{Table: table, Streams: streams, Keys: len(keys), Seconds: elapsed.Seconds()}
	r.PerSec = float64(streams*len(keys)) / elapsed.Seconds()
	for _, o := range outs {
		died := strings.Contains(o.stderr.String(), "fatal:") || ctx.Err() != nil
		if s := strings.TrimSpace(o.stderr.String()); s != "" && r.Stderr == "" {
			r.Stderr = firstLines(s, 3)
		}
		r.Counts.Add(checkPostmap(o.stdout.Bytes(), keys, data, died))
	}
	return r, nil
}

// checkPostmap checks one postmap -q - output against keys.
func checkPostmap(stdout []byte, keys []bench.Key, data bench.BulkAliases, died bool) bench.Counts {
	got := map[string]string{}
	var c bench.Counts
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			c.Wrong++
			continue
		}
		got[k] = v
	}
	answered := len(keys)
	if died {
		// The keys after the last one printed were not answered. (A run
		// that died is never counted as correct beyond what it printed.)
		answered = 0
		for i, k := range keys {
			if _, ok := got[k.Key]; ok {
				answered = i + 1
			}
		}
	}
	for i, k := range keys {
		v, found := got[k.Key]
		switch {
		case i >= answered:
			c.Errors++
		case found && k.Want.Status == socketmap.StatusOK && v == k.Want.Text:
			c.OK++
		case !found && k.Want.Status == socketmap.StatusNotFound:
			c.NotFound++
		default:
			c.Wrong++
		}
		// Every printed value must also agree with the data set itself.
		if found {
			if w := data.Expect(k.Key); w.Status != socketmap.StatusOK || w.Text != v {
				c.Wrong++
			}
		}
	}
	return c
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, "\n")
}

// connWatch polls the number of connections the account "postfix" holds
// (information_schema.PROCESSLIST) every 10 ms, keeping the peak, and reads
// Max_used_connections after FLUSH STATUS reset it.
type connWatch struct {
	root *sql.DB
	stop chan struct{}
	done chan struct{}
	peak int
}

func watchConns(root *sql.DB) *connWatch {
	_, _ = root.Exec("FLUSH STATUS")
	w := &connWatch{root: root, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var n int
			if err := w.root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'postfix'").Scan(&n); err == nil {
				w.peak = max(w.peak, n)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops polling and returns the peak and Max_used_connections (which
// counts every account, the poller's root connection included).
func (w *connWatch) end() (peak int, maxUsed int64) {
	close(w.stop)
	<-w.done
	var name string
	_ = w.root.QueryRow("SHOW GLOBAL STATUS LIKE 'Max_used_connections'").Scan(&name, &maxUsed)
	return w.peak, maxUsed
}
