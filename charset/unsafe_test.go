package charset_test

import "unsafe"

// unsafeData returns the address of s's bytes, to show a function returned
// its argument rather than a copy.
func unsafeData(s string) *byte { return unsafe.StringData(s) }
