//go:build !race

package charset_test

const raceEnabled = false
