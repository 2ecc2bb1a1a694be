package lookup

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
