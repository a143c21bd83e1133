//go:build !race

package c14n_test

const raced = false
