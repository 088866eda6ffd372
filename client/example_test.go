package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
)

// exampleAddrs are beanstalkd servers for the examples, started by TestMain.
var exampleAddrs []string

func TestMain(m *testing.M) {
	var servers []*servertest.Beanstalkd
	dir, err := os.MkdirTemp("", "client-example-")
	if err == nil {
		for i := range 2 {
			sub := fmt.Sprintf("%s/%d", dir, i)
			os.Mkdir(sub, 0o755)
			b, err := servertest.LaunchBeanstalkd("-b", sub)
			if err == nil {
				servers = append(servers, b)
				exampleAddrs = append(exampleAddrs, b.Addr)
			}
		}
	}
	if len(servers) < 2 && os.Getenv("CI") == "" {
		fmt.Println("client: beanstalkd not installed; skipping the package's tests")
		os.Exit(0)
	}
	code := m.Run()
	for _, b := range servers {
		b.Kill()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func Example() {
	ctx := context.Background()
	c, err := client.Dial(ctx, exampleAddrs[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// A producer puts a job into the tube "emails".
	id, err := c.PutIn(ctx, "emails", []byte("to: ada@example.com"), 0, 0, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("put job", id)

	// A worker takes it, and deletes it when done.
	c.Watch(ctx, "emails")
	j, err := c.ReserveWithTimeout(ctx, 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("reserved job %d: %s\n", j.ID, j.Body)
	c.Delete(ctx, j.ID)

	// Error replies come back as sentinels inside an *Error.
	err = c.Delete(ctx, j.ID)
	fmt.Println(errors.Is(err, client.ErrNotFound))
	// Output:
	// put job 1
	// reserved job 1: to: ada@example.com
	// true
}

func ExamplePool() {
	ctx := context.Background()
	p, err := client.NewPool(ctx, client.PoolConfig{Addrs: exampleAddrs})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	// Puts go round robin over the live servers.
	for _, body := range []string{"a", "b"} {
		if _, err := p.Put(ctx, "pool-example", []byte(body), 0, 0, time.Minute); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("live servers:", p.Stats().Live)

	// Reserve takes the first job any server hands out; the Handle sends
	// Delete to the server that holds the job.
	for range 2 {
		h, err := p.Reserve(ctx, time.Second, "pool-example")
		if err != nil {
			fmt.Println(err)
			return
		}
		h.Delete(ctx)
	}
	_, err = p.Reserve(ctx, 0, "pool-example")
	fmt.Println(errors.Is(err, client.ErrTimedOut))
	// Output:
	// live servers: 2
	// true
}
