package module

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/reprieve/reprieve/internal/pipeline"
)

// Stdout is where output.stdout writes; tests may replace it.
var Stdout io.Writer = os.Stdout

var stdoutMu sync.Mutex // protects writes to Stdout

var stdoutKinds = []*pipeline.Kind{
	{
		Name:    "output.stdout",
		Summary: "prints each message on standard output, one per line",
		In:      []string{"inbox"},
		Args: []pipeline.Arg{
			{Name: "format", Type: pipeline.String, Default: "body", Doc: "\"body\" prints the payload; \"json\" prints the whole message with its id, hops and error chain"},
		},
		Check: func(a pipeline.Args) error {
			if f := a.String("format"); f != "body" && f != "json" {
				return &pipeline.ArgError{Arg: "format", Msg: fmt.Sprintf("want \"body\" or \"json\", got %q", f)}
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &stdout{json: a.String("format") == "json"}, nil
		},
	},
}

type stdout struct{ json bool }

// Handle writes one line.
func (s *stdout) Handle(_ context.Context, _ string, m *pipeline.Message) error {
	line := m.Body
	if s.json {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		line = b
	}
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	_, err := fmt.Fprintf(Stdout, "%s\n", line)
	return err
}
