package client

// endpoint is the URL the next dial goes to: URL first, then FallbackURLs
// in turn as dials fail.
func (c *Conn) endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 1 + len(c.opts.FallbackURLs)
	if i := c.urlIdx % n; i > 0 {
		return c.opts.FallbackURLs[i-1]
	}
	return c.opts.URL
}

// nextEndpoint moves on after a failed dial. A session that was up and then
// dropped first redials the same endpoint (a blip), and only a failed dial
// means that node is gone.
func (c *Conn) nextEndpoint() {
	c.mu.Lock()
	c.urlIdx = (c.urlIdx + 1) % (1 + len(c.opts.FallbackURLs))
	c.mu.Unlock()
}

// URL is the endpoint of the current (or next) session.
func (c *Conn) URL() string { return c.endpoint() }
