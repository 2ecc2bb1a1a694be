package hosts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestQuarantineGrowsAndResets: each opening in a row quarantines a host
// longer (base × n, ±10% jitter, capped); closing resets it.
func TestQuarantineGrowsAndResets(t *testing.T) {
	h := &hostState{name: "h"}
	now := time.Unix(1000, 0)
	base, max := 5*time.Second, 12*time.Second
	for n, want := range []time.Duration{5 * time.Second, 10 * time.Second, 12 * time.Second, 12 * time.Second} {
		d := h.opened(now, base, max)
		assert.InDelta(t, float64(want), float64(d), float64(want)/10+1, "opening %d", n+1)
		assert.True(t, h.quarantined(now.Add(d-time.Millisecond)))
		assert.False(t, h.quarantined(now.Add(d+time.Millisecond)))
	}
	h.closed()
	assert.False(t, h.quarantined(now))
	d := h.opened(now, base, max)
	assert.InDelta(t, float64(base), float64(d), float64(base)/10+1, "after closing, the multiplier starts again")
}

// TestLastResortOrder: hosts whose last outcome was an answer first, then
// the host that failed longest ago.
func TestLastResortOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	mk := func(name string, answered, faulted time.Duration) *Target {
		h := &hostState{name: name}
		if answered > 0 {
			h.health.sawAnswer(now.Add(answered))
		}
		if faulted > 0 {
			h.health.sawFault(now.Add(faulted))
		}
		return &Target{host: h}
	}
	ts := []*Target{
		mk("stalled just now", time.Second, 9*time.Second),
		mk("failed long ago", time.Second, 2*time.Second),
		mk("answers again", 8*time.Second, 3*time.Second),
		mk("never tried", 0, 0),
	}
	lastResortOrder(ts)
	var got []string
	for _, tg := range ts {
		got = append(got, tg.host.name)
	}
	assert.Equal(t, []string{"answers again", "never tried", "failed long ago", "stalled just now"}, got)
}
