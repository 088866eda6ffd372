// Package stats defines the keys of the stats, stats-tube and stats-job
// replies once: each key with the value it reports, in the reply's order.
// The server renders them as beanstalkd's YAML (Write) and the admin API
// as typed JSON (Value.JSON), so the two cannot drift apart.
//
// The keys are beanstalkd 1.12's, in its order, followed by Reprieve's
// extension keys (docs/protocol.md, "Extensions").
package stats
