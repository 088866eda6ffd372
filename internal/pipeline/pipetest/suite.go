// Package pipetest runs the unit tests of a pipeline bootstrap file, as
// `reprieve test` does: YAML cases that feed messages into a queue of the
// pipeline and assert the messages that reach named queues, with their
// failure annotations. Inputs and outputs are replaced so that no network is
// needed (docs/pipelines.md, "Testing a pipeline", is the reference).
package pipetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// ErrInvalid is wrapped by the errors of Load for a test file that cannot
// be used.
var ErrInvalid = errors.New("pipetest: invalid test file")

// Suite is one test file: the pipeline it tests and its cases.
type Suite struct {
	// File is the test file's path.
	File string
	// Pipeline is the bootstrap file under test, resolved against the
	// test file's directory.
	Pipeline string `yaml:"pipeline"`
	// Cases run in order, each on a fresh pipeline.
	Cases []Case `yaml:"tests"`
}

// Case is one test.
type Case struct {
	Name string `yaml:"name"`
	// Arguments overrides module arguments: module name -> argument -> value.
	Arguments map[string]map[string]any `yaml:"arguments"`
	// Fail makes replaced output modules fail every message with this error
	// text (module name -> text), as a destination that is down would.
	Fail map[string]string `yaml:"fail"`
	// Input is what the case feeds.
	Input Input `yaml:"input"`
	// Expect maps "module.queue" to the messages that must pass it, in
	// order; an empty list asserts that none does.
	Expect map[string][]Want `yaml:"expect"`
	// Timeout bounds how long the case waits for the pipeline to finish
	// with its messages; default 10s.
	Timeout string `yaml:"timeout"`

	line    int
	timeout time.Duration
}

// Line is where the case starts in its file.
func (c *Case) Line() int { return c.line }

// Input names a queue and the messages fed into it.
type Input struct {
	// Queue is "module.queue": an output queue (the message goes through
	// its route, as if the module had emitted it) or an input queue.
	Queue    string    `yaml:"queue"`
	Messages []Message `yaml:"messages"`
}

// Message is one message fed into a pipeline.
type Message struct {
	ID   string            `yaml:"id"`
	Body string            `yaml:"body"`
	Meta map[string]string `yaml:"meta"`
	// Attempt is the message's count of passes through retry modules (a
	// message fed as a retry module sends it back has 1 or more).
	Attempt int `yaml:"attempt"`
}

// Want is what one message on a queue must look like. Fields left out are
// not checked.
type Want struct {
	Body         *string           `yaml:"body"`
	BodyContains *string           `yaml:"body_contains"`
	Meta         map[string]string `yaml:"meta"`
	Attempt      *int              `yaml:"attempt"`
	// Errors is the message's error chain, oldest first; when given, its
	// length is checked too.
	Errors []WantError `yaml:"errors"`
}

// WantError is one failure annotation.
type WantError struct {
	Module        string  `yaml:"module"`
	Error         *string `yaml:"error"`
	ErrorContains *string `yaml:"error_contains"`
}

// Load reads and checks a test file.
func Load(path string) (*Suite, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipetest: %w", err)
	}
	s := &Suite{File: path}
	if err := yaml.UnmarshalWithOptions(src, s, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, path, yaml.FormatError(err, false, true))
	}
	if s.Pipeline == "" {
		return nil, fmt.Errorf("%w: %s: no \"pipeline:\" naming the bootstrap file to test", ErrInvalid, path)
	}
	if !filepath.IsAbs(s.Pipeline) {
		s.Pipeline = filepath.Join(filepath.Dir(path), s.Pipeline)
	}
	if len(s.Cases) == 0 {
		return nil, fmt.Errorf("%w: %s: no cases under \"tests:\"", ErrInvalid, path)
	}
	lines := caseLines(src)
	for i := range s.Cases {
		c := &s.Cases[i]
		if i < len(lines) {
			c.line = lines[i]
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		c.timeout = 10 * time.Second
		if c.Timeout != "" {
			if c.timeout, err = time.ParseDuration(c.Timeout); err != nil || c.timeout <= 0 {
				return nil, fmt.Errorf("%w: %s:%d: timeout %q is not a positive Go duration (10s)", ErrInvalid, path, c.line, c.Timeout)
			}
		}
		if _, _, ok := splitRef(c.Input.Queue); !ok {
			return nil, fmt.Errorf("%w: %s:%d: %s: input queue %q: write module.queue", ErrInvalid, path, c.line, c.Name, c.Input.Queue)
		}
		for q := range c.Expect {
			if _, _, ok := splitRef(q); !ok {
				return nil, fmt.Errorf("%w: %s:%d: %s: expect %q: write module.queue", ErrInvalid, path, c.line, c.Name, q)
			}
		}
	}
	return s, nil
}

// splitRef splits "module.queue".
func splitRef(s string) (module, queue string, ok bool) {
	module, queue, ok = strings.Cut(s, ".")
	return module, queue, ok && module != "" && queue != ""
}

// caseLines returns the line of each "- " item directly under "tests:".
func caseLines(src []byte) []int {
	var out []int
	in, indent := false, -1
	for i, l := range strings.Split(string(src), "\n") {
		t := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(l, "tests:"):
			in = true
		case in && len(t) > 0 && len(t) == len(l) && !strings.HasPrefix(t, "-") && !strings.HasPrefix(t, "#"):
			in = false
		case in && strings.HasPrefix(t, "- "):
			d := len(l) - len(t)
			if indent < 0 {
				indent = d
			}
			if d == indent {
				out = append(out, i+1)
			}
		}
	}
	return out
}
