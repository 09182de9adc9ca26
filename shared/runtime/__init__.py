"""Running secchain's processes: ports, child processes, the local broker."""
