//go:build race

package c14n_test

// raced: sync.Pool drops items at random under the race detector, so allocations are not counted.
const raced = true
