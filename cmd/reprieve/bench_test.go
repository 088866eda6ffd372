package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/servertest"
)

// benchJSON runs `reprieve bench ARGS --json` and decodes its output.
func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := benchMain(append(args, "--json"), &out, &errOut); err != nil {
		t.Fatalf("bench %v: %v (stderr %q)", args, err, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("bench %v printed no JSON: %v\n%s", args, err, out.String())
	}
	return m
}

func TestBenchCommandAgainstReprieve(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, nil)
	m := benchJSON(t, "--addr", srv.Addr, "--workload", "put", "--count", "321", "--conns", "3", "--pipeline", "4", "--keep")
	for _, k := range []string{"workload", "addr", "conns", "pipeline", "size", "tubes", "ops", "errors", "seconds", "ops_per_sec", "latency"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, m)
		}
	}
	if m["ops"] != 321.0 || m["errors"] != 0.0 || m["conns"] != 3.0 || m["pipeline"] != 4.0 {
		t.Fatalf("ops %v errors %v conns %v pipeline %v", m["ops"], m["errors"], m["conns"], m["pipeline"])
	}
	if got := srv.Server.Count(beanstalk.OpPut); got != 321 {
		t.Fatalf("server counted %d puts, want 321", got)
	}

	// 300 measured reserve+delete pairs on the jobs left by the put run,
	// then (no --keep) the other 21 are deleted after the run.
	m = benchJSON(t, "--addr", srv.Addr, "--workload", "reserve-delete", "--no-prefill", "--count", "300")
	if m["ops"] != 300.0 || srv.Server.Count(beanstalk.OpDelete) != 321 {
		t.Fatalf("reserve-delete ops %v, server deletes %d; want 300 and 321", m["ops"], srv.Server.Count(beanstalk.OpDelete))
	}
	if n := srv.Broker.Stats().CurrentJobsReady; n != 0 {
		t.Fatalf("%d jobs left ready, want 0", n)
	}
}

func TestBenchCommandCompare(t *testing.T) {
	t.Parallel()
	a, b := servertest.Start(t, nil), servertest.Start(t, nil)
	m := benchJSON(t, "--addr", a.Addr, "--compare", b.Addr, "--rounds", "2", "--count", "100", "--conns", "2")
	rounds, _ := m["rounds"].([]any)
	if len(rounds) != 2 || m["a"] != a.Addr || m["b"] != b.Addr || m["name_a"] != "reprieve 0.1.0, memory (--no-log)" {
		t.Fatalf("compare JSON: %v", m)
	}
	for _, k := range []string{"median_ratio", "median_a", "median_b"} {
		if _, ok := m[k]; !ok {
			t.Errorf("compare JSON lacks %q", k)
		}
	}
	if a.Server.Count(beanstalk.OpPut) != 200 || b.Server.Count(beanstalk.OpPut) != 200 {
		t.Fatalf("puts A %d B %d, want 200 each", a.Server.Count(beanstalk.OpPut), b.Server.Count(beanstalk.OpPut))
	}
}

func TestBenchCommandLineErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "get"}, `unknown workload "get"`},
		{[]string{"--workload", "put-reserve-delete", "--size", "10"}, "too small"},
		{[]string{"--conns", "0"}, "connections 0"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--compare", "127.0.0.1:1", "--rounds", "0", "--count", "1"}, "rounds 0"},
	} {
		var out, errOut bytes.Buffer
		err := benchMain(tt.args, &out, &errOut)
		if err == nil || !isUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %v = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}
