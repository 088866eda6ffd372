package main

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSettingsPrecedence: flag > environment > file > default, for a
// plain flag set; repeatable flags take a list; errors name the variable
// or the file's line.
func TestSettingsPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "reprieve.yaml")
	os.WriteFile(file, []byte("tubes: {}\nserve:\n  a: from-file\n  b: from-file\n  c: from-file\n  hosts: [x, y]\n"), 0o644)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	a, b, c, d := fs.String("a", "def", ""), fs.String("b", "def", ""), fs.String("c", "def", ""), fs.String("d", "def", "")
	var hosts []string
	fs.Func("hosts", "", func(s string) error { hosts = append(hosts, s); return nil })
	if err := fs.Parse([]string{"-a", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REPRIEVE_A": "from-env", "REPRIEVE_B": "from-env"}
	st, err := applySettings(fs, "serve", file, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if *a != "from-flag" || *b != "from-env" || *c != "from-file" || *d != "def" || strings.Join(hosts, ",") != "x,y" {
		t.Fatalf("a=%s b=%s c=%s d=%s hosts=%v", *a, *b, *c, *d, hosts)
	}
	want := settings{"a": {"from-flag", "flag"}, "b": {"from-env", "env REPRIEVE_B"}, "c": {"from-file", file + ":5"}, "d": {"def", "default"}}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s: %+v, want %+v", k, st[k], v)
		}
	}

	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Int("n", 0, "")
	os.WriteFile(file, []byte("serve:\n  n: many\n  typo: 1\n"), 0o644)
	_, err = applySettings(fs, "serve", file, func(string) string { return "" })
	if err == nil || err.Error() != file+":3: serve.typo: no such flag of reprieve serve (reprieve serve --help lists them)" {
		t.Errorf("unknown key: %v", err)
	}
	os.WriteFile(file, []byte("serve:\n  n: many\n"), 0o644)
	_, err = applySettings(fs, "serve", file, func(string) string { return "" })
	if err == nil || !strings.HasPrefix(err.Error(), file+":2: serve.n: parse error") {
		t.Errorf("bad value in the file: %v", err)
	}
	_, err = applySettings(fs, "serve", "", func(k string) string { return map[string]string{"REPRIEVE_N": "lots"}[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "REPRIEVE_N=lots: parse error") {
		t.Errorf("bad value in the environment: %v", err)
	}
}

// TestServeSettingsFromEnvAndFile runs `reprieve serve` with flags from
// the command line, the environment and the serve: section of its --config
// file, and reads the effective configuration back from the admin API.
func TestServeSettingsFromEnvAndFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	t.Parallel()
	bin := buildReprieve(t)
	addr, adminAddr := freePort(t), freePort(t)
	file := filepath.Join(t.TempDir(), "reprieve.yaml")
	os.WriteFile(file, []byte("tubes: {}\nserve:\n  listen: "+addr+"\n  max-job-size: 1000\n  log-level: debug\n"), 0o644)
	cmd := exec.Command(bin, "serve", "--no-log", "--config", file)
	cmd.Env = append(os.Environ(), "REPRIEVE_MAX_JOB_SIZE=2000", "REPRIEVE_ADMIN_LISTEN="+adminAddr, "REPRIEVE_ADMIN_TOKEN=s3cret")
	logFile := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f // a file: the test reads it while the process writes
	output := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var got map[string]setting
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+adminAddr+"/api/v1/config", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /api/v1/config: %d %s", resp.StatusCode, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin interface not up after 20s: %v\n%s", err, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for k, v := range map[string]setting{
		"listen":       {addr, file + ":3"},
		"max-job-size": {"2000", "env REPRIEVE_MAX_JOB_SIZE"},
		"no-log":       {"true", "flag"},
		"admin-token":  {"(set, not shown)", "env REPRIEVE_ADMIN_TOKEN"},
		"log-level":    {"debug", file + ":5"},
		"config":       {file, "flag"},
	} {
		if got[k] != v {
			t.Errorf("%s: %+v, want %+v", k, got[k], v)
		}
	}
	if out := output(); !strings.Contains(out, "msg=setting flag=max-job-size value=2000 source=\"env REPRIEVE_MAX_JOB_SIZE\"") || strings.Contains(out, "s3cret") {
		t.Errorf("the debug log lacks the settings or shows the token:\n%s", out)
	}
}
