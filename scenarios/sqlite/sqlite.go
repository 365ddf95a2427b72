// Package sqlite registers a real SQL database, the pure-Go SQLite of
// modernc.org/sqlite, as the database/sql driver "sqlite", for the scenarios
// that query one (their Link names this package).
//
// The driver is a translation of SQLite's C source into Go and takes about
// a minute to compile on a two-core machine, longer than the rest of
// concviz. So viz does not import it: the tracer builds a child of its own
// that links this package, the first time such a scenario runs, and the Go
// build cache makes every later build a matter of seconds.
package sqlite

import _ "modernc.org/sqlite" // the driver registers itself as "sqlite"
