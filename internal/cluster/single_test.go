package cluster

import (
	"context"
	"testing"
	"time"
)

func TestSingleNodeLeads(t *testing.T) {
	nodes := openAll(t, testConfigs(t, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := next(t, campaign(ctx, nodes))
	if w.l.Term() != 1 {
		t.Fatalf("term %d", w.l.Term())
	}
}
