// Package stress holds mapgate's model-based concurrent checker, in the
// spirit of Jepsen's: many socketmap clients ask random keys of a running
// mapgate while a writer changes the database under it (rows, active
// flags, ALTER TABLE of the key column) and a fault injector kills, stops
// and restarts one of its two MariaDB hosts. Every answer is checked
// against what the database held at some instant between the request and
// the reply. The checker is the test in this package; there is no
// non-test code.
package stress
