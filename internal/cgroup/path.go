package cgroup

import (
	"fmt"
	"strings"
)

// Root is the faultline-owned cgroup directly below each hierarchy's mount
// point. Every group faultline creates lives under it, and no operation of
// this package accepts a path outside it.
const Root = "faultline"

// groupPath validates p, a cgroup path relative to the hierarchy roots
// ("faultline/env/replica", with or without a leading slash), and returns
// its canonical form "/faultline/env/replica". Paths that leave Root, or
// contain "." or ".." elements, are refused rather than cleaned: a path
// that needs cleaning did not come from this package.
func groupPath(p string) (string, error) {
	var elems []string
	for e := range strings.SplitSeq(p, "/") {
		switch e {
		case "":
			continue
		case ".", "..":
			return "", fmt.Errorf("cgroup path %q: %q elements are not allowed", p, e)
		}
		if strings.ContainsRune(e, 0) {
			return "", fmt.Errorf("cgroup path %q: contains a NUL byte", p)
		}
		elems = append(elems, e)
	}
	if len(elems) == 0 || elems[0] != Root {
		return "", fmt.Errorf("cgroup path %q is outside %q: faultline only touches cgroups it owns", p, Root)
	}
	return "/" + strings.Join(elems, "/"), nil
}

// childName validates the name of a group created below a parent.
func childName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("cgroup name %q: want one non-empty path element", name)
	}
	return nil
}
