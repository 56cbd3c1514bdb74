package manifest

import "strings"

// suggest returns the candidate closest to s by edit distance (case-insensitive),
// or "" when none is close enough to be a plausible typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := levenshtein(ls, strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	// Allow roughly one typo per three characters, at least one, at most four.
	limit := len(s) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 4 {
		limit = 4
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// levenshtein is the classic edit distance; strings here are field names,
// short enough that the quadratic cost does not matter.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
