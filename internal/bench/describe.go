package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
)

// Describe asks the server at addr for its stats and returns a short
// description of it for comparison tables: its name and version and its
// durability, such as "reprieve 0.1.0, log fsync interval", "reprieve
// 0.1.0, memory (--no-log)", "beanstalkd 1.12, binlog" or "beanstalkd 1.12,
// memory". Reprieve is recognised by its stats keys (wal-fsync-policy,
// total-failures); any other server is described as beanstalkd, whose
// stats do not tell its fsync setting (-f). It returns an error if the
// server cannot be reached or answers stats with anything but a list.
func Describe(ctx context.Context, addr string, tlsConfig *tls.Config) (string, error) {
	c, err := dial(ctx, addr, tlsConfig)
	if err != nil {
		return "", err
	}
	defer c.close()
	st, err := c.statsReply("stats")
	if err != nil {
		return "", err
	}
	return describeStats(st), nil
}

// describeStats turns a stats reply's keys into Describe's description.
func describeStats(st map[string]string) string {
	version := strings.Trim(st["version"], `"`)
	if policy, ok := st["wal-fsync-policy"]; ok {
		return fmt.Sprintf("reprieve %s, log fsync %s", version, policy)
	}
	if _, ok := st["total-failures"]; ok {
		return fmt.Sprintf("reprieve %s, memory (--no-log)", version)
	}
	if idx := st["binlog-current-index"]; idx != "" && idx != "0" {
		return fmt.Sprintf("beanstalkd %s, binlog", version)
	}
	return fmt.Sprintf("beanstalkd %s, memory", version)
}

// statsReply sends a stats command (stats, stats-tube NAME, stats-job ID)
// and returns the keys of its reply (values as sent, quotes included).
func (c *conn) statsReply(cmd string) (map[string]string, error) {
	line, err := c.roundTrip(cmd)
	if err != nil {
		return nil, err
	}
	n, ok := atoi(word(line, 1))
	if !bytes.HasPrefix(line, []byte("OK ")) || !ok || n > 1<<20 {
		return nil, fmt.Errorf("%w: %q to %s", ErrProtocol, line, cmd)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, fmt.Errorf("bench: read stats: %w", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}
