package beanstalk

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

func BenchmarkParsePut(b *testing.B) {
	line := []byte("put 1024 0 60 64")
	var c Command
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseCommand(line, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReserve(b *testing.B) {
	line := []byte("reserve-with-timeout 5")
	var c Command
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseCommand(line, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadPut reads pipelined puts of 64-byte bodies from a stream.
func BenchmarkReadPut(b *testing.B) {
	one := append([]byte("put 1024 0 60 64\r\n"), bytes.Repeat([]byte("x"), 64)...)
	one = append(one, "\r\n"...)
	stream := bytes.Repeat(one, 1000)
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 64<<10)
	r := NewReader(br, 0)
	var c Command
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadCommand(&c); err == io.EOF {
			src.Reset(stream)
			br.Reset(src)
			if err := r.ReadCommand(&c); err != nil {
				b.Fatal(err)
			}
		} else if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteReserved(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 64)
	w := NewWriter(bufio.NewWriterSize(io.Discard, 64<<10))
	b.ReportAllocs()
	for b.Loop() {
		w.Job("RESERVED", 123456, body)
	}
	_ = w.Flush()
}

func BenchmarkStatsDict(b *testing.B) {
	var d Dict
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		for i := 0; i < 50; i++ {
			d.Uint("current-jobs-ready", uint64(i))
		}
	}
}
