package main

import "runtime"

// setBlockProfileRate turns on the block and mutex profiles, to see where the
// actor and the connection goroutines wait.
func setBlockProfileRate(rate int) {
	runtime.SetBlockProfileRate(rate)
	runtime.SetMutexProfileFraction(rate)
}
