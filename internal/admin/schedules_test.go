package admin_test

import (
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/policy"
)

func TestSchedules(t *testing.T) {
	e := start(t, options{})
	e.do(t, "GET", "/api/v1/schedules").want(t, "no schedules", 200, "{\n  \"schedules\": []\n}\n")
	set, err := policy.Parse("p.yaml", []byte("schedules:\n  beat:\n    cron: \"@every 1h\"\n    tube: beats\n    catch-up: once\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Broker.SetPolicies(set)
	e.clk.Advance(time.Hour)
	e.do(t, "GET", "/api/v1/schedules").want(t, "after one tick", 200, `{
  "schedules": [
    {
      "name": "beat",
      "cron": "@every 1h",
      "timezone": "UTC",
      "tube": "beats",
      "catch-up": "once",
      "next": "2026-03-01T14:00:00Z",
      "last": "2026-03-01T13:00:00Z",
      "fired": 1
    }
  ]
}
`)
}
