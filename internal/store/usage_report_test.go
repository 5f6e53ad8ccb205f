package store

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTopK: the k first by the order, in order, whichever way they are found.
func TestTopK(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := rng.IntN(200) + 1
		rows := make([]int, n)
		for i := range rows {
			rows[i] = rng.IntN(50)
		}
		want := slices.Clone(rows)
		slices.SortFunc(want, cmp.Compare[int])
		k := rng.IntN(n) + 1
		topK(rows, k, cmp.Compare[int])
		if !slices.Equal(rows[:k], want[:k]) {
			t.Fatalf("topK(%d of %d) = %v, want %v", k, n, rows[:k], want[:k])
		}
	}
}
