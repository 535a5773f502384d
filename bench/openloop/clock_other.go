//go:build !linux

package main

import "time"

var epoch = time.Now()

// On other systems the runtime's timers are all there is; the figures are coarser.
func preciseThread()      {}
func monoNow() int64      { return int64(time.Since(epoch)) }
func sleepUntil(ns int64) { time.Sleep(time.Duration(ns - monoNow())) }
