package server

// count is how many connections are open: what the lifecycle tests wait
// on.
func (c *conns) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
