package capacity

import "sort"

// Pods are Count identical pods with one owner (a model, the gateway, istiod, ...).
type Pods struct {
	Name     string
	Requests Resources
	Count    int
}

// Pack places pods on nodes identical nodes with free resources each, the way a scheduler
// that packs tightly would (first fit, largest pods first: GPUs, then CPU, then memory), and
// returns how many of each group found no room. Real schedulers spread rather than pack, so a
// stack that does not pack here certainly does not fit; one that packs fits at least in
// principle.
func Pack(nodes int, free Resources, groups []Pods) (unplaced []Pods) {
	type pod struct {
		group int
		req   Resources
	}
	var pods []pod
	for i, g := range groups {
		for range g.Count {
			pods = append(pods, pod{i, g.Requests})
		}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i].req, pods[j].req
		if a.GPUs != b.GPUs {
			return a.GPUs > b.GPUs
		}
		if a.MilliCPU != b.MilliCPU {
			return a.MilliCPU > b.MilliCPU
		}
		return a.Memory > b.Memory
	})
	left := make([]Resources, nodes)
	for i := range left {
		left[i] = free
	}
	missing := make([]int, len(groups))
	for _, p := range pods {
		placed := false
		for n := range left {
			if p.req.Fits(left[n]) {
				left[n] = left[n].Sub(p.req)
				placed = true
				break
			}
		}
		if !placed {
			missing[p.group]++
		}
	}
	for i, n := range missing {
		if n > 0 {
			g := groups[i]
			g.Count = n
			unplaced = append(unplaced, g)
		}
	}
	return unplaced
}
