package module

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

var execKinds = []*pipeline.Kind{
	{
		Name: "process.exec",
		Summary: "runs an external command per message with the body on stdin; a non-zero exit raises. " +
			"The command is looked up afresh each time, so fixing the script fixes the next retry",
		In:  []string{"inbox"},
		Out: []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "command", Type: pipeline.String, Required: true, Doc: "program name (searched in PATH) or path"},
			{Name: "args", Type: pipeline.Strings, Default: []string{}, Doc: "arguments"},
			{Name: "dir", Type: pipeline.String, Default: "", Doc: "working directory (default: the pipeline's)"},
			{Name: "timeout", Type: pipeline.Duration, Default: 30 * time.Second, Doc: "kill the command after this long (a failure)"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &execMod{env: env, command: a.String("command"), args: a.Strings("args"), dir: a.String("dir"), timeout: a.Duration("timeout")}, nil
		},
	},
}

// ErrExit is wrapped by process.exec's error for a non-zero exit.
var ErrExit = errors.New("module: command failed")

type execMod struct {
	env     *pipeline.Env
	command string
	args    []string
	dir     string
	timeout time.Duration
}

// Handle runs the command once. On success the command's standard output
// becomes the body of a message sent to outbox (when it is connected); the
// original goes to successful.
func (e *execMod) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// exec.CommandContext resolves the name now, not at start-up: a script
	// replaced on disk is what runs next time.
	cmd := exec.CommandContext(ctx, e.command, e.args...)
	cmd.Dir = e.dir
	cmd.Stdin = bytes.NewReader(m.Body)
	// REPRIEVE_ATTEMPT counts this try: 1 the first time.
	cmd.Env = append(cmd.Environ(), "REPRIEVE_MESSAGE_ID="+m.ID, fmt.Sprintf("REPRIEVE_ATTEMPT=%d", m.Attempt+1),
		"REPRIEVE_LAST_ERROR="+m.Meta[pipeline.FallbackErrorMeta])
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &tail{max: 512, buf: &stderr}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return fmt.Errorf("%w: %s: %w: %s", ErrExit, e.command, err, msg)
		}
		return fmt.Errorf("%w: %s: %w", ErrExit, e.command, err)
	}
	if e.env.Connected("outbox") {
		out := m.Clone()
		out.Body = bytes.TrimRight(stdout.Bytes(), "\n")
		return e.env.Emit(ctx, "outbox", out)
	}
	return nil
}

// tail keeps the last max bytes written.
type tail struct {
	max int
	buf *bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}
