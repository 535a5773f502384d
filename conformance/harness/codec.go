package main

import "google.golang.org/grpc/mem"

// rawMessage is a message the backends neither parse nor fill: the clients send and expect
// empty messages, whatever method they name.
type rawMessage struct{ b []byte }

// rawCodec passes message bytes through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawMessage).b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawMessage).b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
