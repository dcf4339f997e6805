package csapi

import "context"

// Capabilities reads the location's limits (Capabilities: GET
// /capabilities/).
func (c *Client) Capabilities(ctx context.Context) (*Capabilities, error) {
	var caps Capabilities
	if err := c.do(ctx, "GET", "capabilities/", nil, nil, &caps); err != nil {
		return nil, err
	}
	return &caps, nil
}
