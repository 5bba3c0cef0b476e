package node

// SimulatorAddr returns the in-process simulator's own address (tests).
func SimulatorAddr(n *Node) string { return n.simAddr() }
