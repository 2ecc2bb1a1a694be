package lookup

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A lookup that arrives while a query is running never gets that query's
// result (it may predate a change the lookup must see): it shares the
// next query with every lookup that arrives meanwhile.
func TestFreshGroupNeverHandsOutAnOlderRead(t *testing.T) {
	var g freshGroup
	var runs atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func() (any, time.Time, error) {
		sent := time.Now()
		n := runs.Add(1)
		if n == 1 {
			close(started)
			<-release
		}
		return n, sent, nil
	}
	first := make(chan any)
	go func() {
		v, _ := g.do("k", fn)
		first <- v
	}()
	<-started
	// 16 lookups arrive while the first query runs.
	const late = 16
	var wg sync.WaitGroup
	got := make([]any, late)
	for i := 0; i < late; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], _ = g.do("k", fn)
		}(i)
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the first
	close(release)
	assert.Equal(t, int64(1), <-first)
	wg.Wait()
	for i, v := range got {
		assert.Equal(t, int64(2), v, "lookup %d got a result read before it arrived", i)
	}
	assert.Equal(t, int64(2), runs.Load(), "the late lookups share one query")
	// Nothing is kept: the next lookup runs its own query.
	v, _ := g.do("k", fn)
	assert.Equal(t, int64(3), v)
	assert.Empty(t, g.m)
}

// A query that failed over sends its answering attempt late: lookups that
// arrived before that attempt was sent take its result.
func TestFreshGroupSharesALaterAttempt(t *testing.T) {
	var g freshGroup
	var runs atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func() (any, time.Time, error) {
		n := runs.Add(1)
		if n == 1 {
			close(started)
			<-release // the first host stalls; the second is asked now
		}
		return n, time.Now(), nil
	}
	first := make(chan any)
	go func() {
		v, _ := g.do("k", fn)
		first <- v
	}()
	<-started
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], _ = g.do("k", fn)
		}(i)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	assert.Equal(t, int64(1), <-first)
	wg.Wait()
	for i, v := range got {
		assert.Equal(t, int64(1), v, "lookup %d", i)
	}
	assert.Equal(t, int64(1), runs.Load())
	assert.Empty(t, g.m)
}
