//go:build !race

package fieldpath

const raceEnabled = false
