package cluster

import (
	"os"
	"testing"
)

var sharedDir string

// tempDir is the shared NATS cluster's directory, removed by TestMain.
func tempDir() (string, error) {
	d, err := os.MkdirTemp("", "reprieve-cluster-nats-")
	sharedDir = d
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		for _, s := range shared.servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}
