package vllmsim

import "container/list"

// kvCache is one replica's KV block pool, the way vLLM's block manager shares it between the
// running sequences and the prefix cache: a fixed number of blocks; full blocks are keyed by
// their chained hash; a block in use by a running sequence is pinned (ref > 0); a block nobody
// uses stays cached and is evicted least recently used first when a sequence needs room.
// Not safe for concurrent use (the replica's lock guards it).
type kvCache struct {
	capacity int
	used     int // blocks taken: pinned, cached (ref 0) and anonymous (partial or decode blocks)
	pinned   int // blocks held by running sequences (hashed with ref > 0, plus anonymous)
	blocks   map[uint64]*kvBlock
	lru      list.List // hashed blocks with ref 0, most recently used at the front
}

type kvBlock struct {
	hash uint64
	ref  int
	elem *list.Element // in lru while ref == 0
}

func newKVCache(capacity int) *kvCache {
	return &kvCache{capacity: capacity, blocks: map[uint64]*kvBlock{}}
}

// match is how many leading hashes are cached (a prefix hit stops at the first miss).
func (c *kvCache) match(hashes []uint64) int {
	for i, h := range hashes {
		if _, ok := c.blocks[h]; !ok {
			return i
		}
	}
	return len(hashes)
}

// reserve makes room for n more blocks, evicting unused cached blocks (least recently used
// first) if it must; false (and nothing evicted) when even that is not enough.
func (c *kvCache) reserve(n int) bool {
	if c.capacity-c.used+c.lru.Len() < n {
		return false
	}
	for c.capacity-c.used < n {
		b := c.lru.Remove(c.lru.Back()).(*kvBlock)
		delete(c.blocks, b.hash)
		c.used--
	}
	return true
}

// acquire pins a sequence's blocks: its hashed (full prompt) blocks, cached or new, and anon
// anonymous blocks. The caller has reserved room for the new ones.
func (c *kvCache) acquire(hashes []uint64, anon int) {
	for _, h := range hashes {
		b, ok := c.blocks[h]
		if !ok {
			c.blocks[h] = &kvBlock{hash: h, ref: 1}
			c.used++
			c.pinned++
			continue
		}
		if b.ref == 0 {
			c.lru.Remove(b.elem)
			b.elem = nil
			c.pinned++
		}
		b.ref++
	}
	c.used += anon
	c.pinned += anon
}

// grow pins one more anonymous block (a decoding sequence crossed a block boundary).
func (c *kvCache) grow() bool {
	if !c.reserve(1) {
		return false
	}
	c.used++
	c.pinned++
	return true
}

// release unpins a sequence's blocks. Its hashed blocks stay cached (ref 0, most recently
// used); its anonymous blocks are freed, then the full blocks of the generated text (extra,
// chained after hashes) are cached as long as there is room without evicting pinned blocks.
func (c *kvCache) release(hashes []uint64, anon int, extra []uint64) {
	for _, h := range hashes {
		b := c.blocks[h]
		b.ref--
		if b.ref == 0 {
			b.elem = c.lru.PushFront(b)
			c.pinned--
		}
	}
	c.used -= anon
	c.pinned -= anon
	for _, h := range extra {
		if b, ok := c.blocks[h]; ok {
			if b.ref == 0 {
				c.lru.MoveToFront(b.elem)
			}
			continue
		}
		if !c.reserve(1) {
			return
		}
		b := &kvBlock{hash: h}
		b.elem = c.lru.PushFront(b)
		c.blocks[h] = b
		c.used++
	}
}

// usage is the fraction of blocks held by running sequences (vllm:kv_cache_usage_perc, 0..1).
func (c *kvCache) usage() float64 { return float64(c.pinned) / float64(c.capacity) }
