package main

import (
	"fmt"
	"os"
	"testing"
)

// harnessTB lets benchrun use the test helpers internal/mgproc and
// internal/pfinst, which take a testing.TB, outside a test: Cleanup
// collects functions that main runs (in reverse) on every exit path, and
// Fatal panics with a fatal value that main recovers.
type harnessTB struct {
	testing.TB // unimplemented methods panic (nil); the helpers use only those below
	cleanups   []func()
	tmp        string
}

type fatal struct{ msg string }

func (t *harnessTB) Helper()          {}
func (t *harnessTB) Name() string     { return "benchrun" }
func (t *harnessTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *harnessTB) Fatal(a ...any)   { panic(fatal{fmt.Sprint(a...)}) }
func (t *harnessTB) Fatalf(f string, a ...any) {
	panic(fatal{fmt.Sprintf(f, a...)})
}
func (t *harnessTB) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, "benchrun: "+f+"\n", a...) }
func (t *harnessTB) Error(a ...any)            { fmt.Fprintln(os.Stderr, append([]any{"benchrun:"}, a...)...) }
func (t *harnessTB) Logf(f string, a ...any)   { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *harnessTB) Log(a ...any)              { fmt.Fprintln(os.Stderr, a...) }
func (t *harnessTB) Skipf(f string, a ...any)  { panic(fatal{"skipped: " + fmt.Sprintf(f, a...)}) }
func (t *harnessTB) Failed() bool              { return false }
func (t *harnessTB) TempDir() string {
	if t.tmp == "" {
		d, err := os.MkdirTemp("", "benchrun")
		if err != nil {
			t.Fatal(err)
		}
		t.tmp = d
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	return t.tmp
}

// runCleanups runs the collected cleanups, last first.
func (t *harnessTB) runCleanups() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if p := recover(); p != nil {
					fmt.Fprintf(os.Stderr, "benchrun: cleanup: %v\n", p)
				}
			}()
			t.cleanups[i]()
		}()
	}
	t.cleanups = nil
}
