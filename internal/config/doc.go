// Package config is the one dialect of Reprieve's configuration files and
// flags: YAML read once into a tree of Nodes that know their line (Parse),
// byte sizes (ParseSize) and durations (ParseDuration). The policy file
// and the pipeline bootstrap file are both read through it, and every
// flag that takes a size or a duration parses it here, so the same
// spelling means the same thing everywhere.
//
// Sizes: a number of bytes, optionally fractional, with an optional unit,
// case-insensitive: b; k, kb, kib; m, mb, mib; g, gb, gib; t, tb, tib.
// Every unit is a power of 1024: "64m", "64MB" and "64MiB" are all
// 67,108,864 bytes.
//
// Durations: a plain number is seconds ("30", "0.5"); otherwise numbers
// with units ns, us (µs), ms, s, m, h, d (24h) and w (7d), combined as in
// "1d12h" or "1m30s".
//
// YAML: one document; anchors, aliases and merge keys (<<: *base, a key
// written beside the merge winning) are resolved by Parse; a key repeated
// in one mapping is a syntax error. docs/policies.md and docs/pipelines.md
// refer to this dialect.
package config
